#!/usr/bin/env python3
"""Copies a sweep database consistently (SQLite's online backup, safe while a sweep writes to
it) and atomically (temp file + rename) to where it is committed. Usage: snapshot_db.py SRC DST"""
import os
import sqlite3
import sys

src, dst = sys.argv[1], sys.argv[2]
tmp = f"{dst}.tmp.{os.getpid()}"
a, b = sqlite3.connect(src), sqlite3.connect(tmp)
a.backup(b)
a.close()
b.close()
os.replace(tmp, dst)
