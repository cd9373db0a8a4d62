// Whole-file reads and atomic writes.
//
// Every file moet writes goes through write_file_atomic: the bytes land in a temporary file in
// the same directory, are flushed to disk, and the temporary is renamed over the target. A crash
// at any point leaves either the old file or the new one, never a torn mix. What such a crash
// does leave is the temporary (`<name>.tmp.<pid>`); remove_stale_temporaries clears those.
#pragma once

#include <string>
#include <string_view>

namespace moet {

// The whole file. Throws Error naming the path when it is missing, unreadable or a directory
// (which the C++ streams would read as an empty file).
std::string read_file(const std::string& path);
// For files another library opens (SQLite): throws the same one-line Error as read_file when
// the path is missing or a directory.
void require_file(const std::string& path);
void write_file_atomic(const std::string& path, std::string_view bytes);
// Where this process writes `path` before renaming it into place: "<path>.tmp.<pid>".
std::string temporary_path(const std::string& path);
// Removes the temporaries (files or directories) in `dir` whose process is gone: what a killed
// writer left. Those of live processes, and everything else, stay.
void remove_stale_temporaries(const std::string& dir);
bool file_exists(const std::string& path);
// Creates the directory and its parents; throws Error naming the path on failure.
void make_dirs(const std::string& path);
// Flushes a directory's entries (files just renamed into it) to disk.
void sync_directory(const std::string& path);

}  // namespace moet
