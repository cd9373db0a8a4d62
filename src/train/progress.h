// Progress of a run on stderr: a bar with ETA that redraws in place on a terminal, plain lines
// (one per log interval) otherwise, so logs stay readable when redirected.
#pragma once

#include <cstdint>
#include <string>

namespace moet {

// Whether a step's progress is also a line of the log when stderr is not a terminal (the steps
// that write a metrics line); a terminal redraws its bar after every step either way.
enum class LogLine { skip, print };

class Progress {
 public:
  Progress(int64_t total_steps, int64_t first_step, bool quiet);
  // After each step: redraws the bar (terminal) or prints a line when log_line says so.
  void update(int64_t step_done, double loss, double val_loss, double tokens_per_s,
              LogLine log_line);
  void message(const std::string& line);  // clears the bar first
  void finish();

 private:
  int64_t total_, first_;
  bool tty_, quiet_;
  double start_s_;
  bool bar_drawn_ = false;
};

std::string format_duration(double seconds);

}  // namespace moet
