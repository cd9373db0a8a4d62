#include "train/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "core/timer.h"

namespace moet {

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const int64_t t = int64_t(std::llround(s));
  if (t >= 3600) return fmt::format("{}h{:02d}m", t / 3600, (t / 60) % 60);
  if (t >= 60) return fmt::format("{}m{:02d}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}

Progress::Progress(int64_t total_steps, int64_t first_step, bool quiet)
    : total_(total_steps),
      first_(first_step),
      tty_(::isatty(2) != 0),
      quiet_(quiet),
      start_s_(now_s()) {}

void Progress::update(int64_t done, double loss, double val_loss, double tokens_per_s,
                      LogLine log_line) {
  if (quiet_) return;
  const double elapsed = now_s() - start_s_;
  const double eta = done > first_ ? elapsed / double(done - first_) * double(total_ - done) : NAN;
  const std::string val = std::isfinite(val_loss) ? fmt::format(" val {:.4f}", val_loss) : "";
  const std::string text = fmt::format("step {}/{} loss {:.4f}{} {:.0f} tok/s ETA {}", done, total_,
                                       loss, val, tokens_per_s, format_duration(eta));
  if (tty_) {
    constexpr int kWidth = 24;
    const int filled = int(kWidth * double(done) / double(total_));
    fmt::print(stderr, "\r[{}{}] {}\x1b[K", std::string(size_t(filled), '#'),
               std::string(size_t(kWidth - filled), '.'), text);
    std::fflush(stderr);
    bar_drawn_ = true;
  } else if (log_line == LogLine::print) {
    fmt::print(stderr, "{}\n", text);
  }
}

void Progress::message(const std::string& line) {
  if (quiet_) return;
  if (bar_drawn_) fmt::print(stderr, "\r\x1b[K");
  fmt::print(stderr, "{}\n", line);
  bar_drawn_ = false;
}

void Progress::finish() {
  if (!quiet_ && bar_drawn_) fmt::print(stderr, "\n");
  bar_drawn_ = false;
}

}  // namespace moet
