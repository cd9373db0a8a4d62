// A thin RAII layer over the SQLite C API: a connection, prepared statements with typed binds
// and columns, and an IMMEDIATE transaction guard.
//
// Only what the results store needs. Every SQLite failure becomes a moet::Error naming the
// database file and the statement, so a corrupt or foreign database is one line, never a crash.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>

namespace moet::sql {

class Statement;

enum class Access { read_only, read_write };

class Db {
 public:
  // Opens (read_only: must exist) or opens-and-creates the file. busy_timeout_ms: how long a
  // writer waits for another process's lock before giving up (sweep workers, MPI ranks and
  // Slurm tasks share one file).
  Db(const std::string& path, Access access, int busy_timeout_ms);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void exec(const std::string& sql);
  Statement prepare(const std::string& sql);
  int64_t changes() const;
  const std::string& path() const { return path_; }
  sqlite3* handle() { return db_; }
  [[noreturn]] void fail_sql(const std::string& what) const;

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
};

class Statement {
 public:
  Statement(Db& db, const std::string& sql);
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are numbered from 1, as in SQL "?1".
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, double value);  // NaN/inf bind as NULL
  Statement& bind(int index, const std::string& value);
  Statement& bind(int index, std::nullopt_t);
  Statement& bind(int index, const std::optional<double>& value);

  // True while a row is available; false when done. Resets itself after the last row.
  bool step();
  // Runs to completion (for statements without result rows).
  void run();

  bool is_null(int column) const;
  int64_t column_int(int column) const;
  double column_double(int column) const;  // NULL reads as NaN
  std::string column_text(int column) const;

 private:
  Db* db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;
};

// BEGIN IMMEDIATE on construction (takes the write lock at once, so two writers never deadlock
// upgrading), ROLLBACK on destruction unless commit() ran.
class Transaction {
 public:
  explicit Transaction(Db& db);
  ~Transaction();
  void commit();

 private:
  Db& db_;
  bool done_ = false;
};

}  // namespace moet::sql
