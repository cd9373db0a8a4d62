"""The one exception the package raises for bad input: its message is one line naming the file
and the field (or tensor) that is wrong."""


class MoetError(ValueError):
    pass
