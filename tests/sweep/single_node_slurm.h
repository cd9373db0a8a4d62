// A Slurm cluster of one node on this machine, so tests hand scripts to the real sbatch: Debian's
// munged, slurmctld and slurmd run as children of the test, in a scratch directory, on free
// loopback ports, with plugins that need neither systemd nor cgroups (proctrack/linuxproc,
// task/none), which is what a container offers.
//
// Nothing outlives the test: the daemons get SIGKILL if the test process dies (PR_SET_PDEATHSIG),
// and stop() (also run by the destructor) cancels the jobs, stops the daemons and kills whatever
// they detached. slurmd starts each job's slurmstepd as an orphan; the test process is a child
// subreaper, so those orphans become its children and stop() can find them. Every wait is
// bounded.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../support/run_binary.h"
#include "core/files.h"

extern char** environ;

namespace moet::testing {

class SingleNodeSlurm {
 public:
  // The Debian packages of the programs this needs that are not installed ("" when all are).
  static std::string missing_packages() {
    const std::pair<const char*, const char*> programs[] = {{"/usr/sbin/munged", "munge"},
                                                            {"/usr/sbin/slurmctld", "slurmctld"},
                                                            {"/usr/sbin/slurmd", "slurmd"},
                                                            {"/usr/bin/sbatch", "slurm-client"}};
    std::string missing;
    for (const auto& [program, package] : programs)
      if (!std::filesystem::exists(program))
        missing += (missing.empty() ? "" : " ") + std::string(package);
    return missing;
  }

  // dir: a fresh directory for the configuration, state and logs; its path must need no quoting.
  explicit SingleNodeSlurm(std::string dir) : dir_(std::move(dir)) {}
  ~SingleNodeSlurm() { stop(); }
  SingleNodeSlurm(const SingleNodeSlurm&) = delete;
  SingleNodeSlurm& operator=(const SingleNodeSlurm&) = delete;

  // Starts the daemons and waits until the node is idle; false (see logs()) when it is not
  // within timeout_s.
  bool start(double timeout_s) {
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    std::filesystem::create_directories(dir_ + "/state");
    std::filesystem::create_directories(dir_ + "/spool");
    write_munge_key();
    write_config();
    daemons_.push_back(
        spawn({"/usr/sbin/munged", "--foreground", "--force", "--key-file=" + dir_ + "/munge.key",
               "--socket=" + socket(), "--pid-file=" + dir_ + "/munged.pid",
               "--seed-file=" + dir_ + "/munged.seed", "--log-file=" + dir_ + "/munged.log"},
              dir_ + "/munged.err"));
    if (!wait_until_up([&] { return std::filesystem::exists(socket()); }, timeout_s)) return false;
    daemons_.push_back(spawn({"/usr/sbin/slurmctld", "-D", "-f", conf()}, dir_ + "/slurmctld.log"));
    daemons_.push_back(
        spawn({"/usr/sbin/slurmd", "-D", "-N", host_, "-f", conf()}, dir_ + "/slurmd.log"));
    return wait_until_up(
        [&] {
          const CommandResult r = client("sinfo --noheader --format=%T");
          return r.exit_code == 0 && r.out.rfind("idle", 0) == 0;
        },
        timeout_s);
  }

  // A Slurm client command line (sbatch ..., srun ...) run against this cluster; ended after
  // two minutes.
  CommandResult client(const std::string& args) const {
    return run_command("SLURM_CONF=" + conf() + " timeout 120 " + args, dir_);
  }

  // Waits until the job (every task of an array) has left the queue; false after timeout_s.
  bool wait_until_gone(const std::string& job_id, double timeout_s) const {
    return wait_for(
        [&] {
          const CommandResult r = client("squeue --noheader --jobs=" + job_id);
          return r.exit_code == 0 && r.out.empty();
        },
        timeout_s);
  }

  // The daemons' logs, for failure messages.
  std::string logs() const {
    std::string text;
    for (const char* name : {"munged.err", "slurmctld.log", "slurmd.log"})
      text += fmt::format("--- {}\n{}", name, slurp(dir_ + "/" + name));
    return text;
  }

  void stop() {
    if (daemons_.empty()) return;
    if (daemons_.size() > 1 && running(daemons_[1])) {
      client("scancel --partition=moet");
      wait_for([&] { return client("squeue --noheader").out.empty(); }, 20);
    }
    for (auto it = daemons_.rbegin(); it != daemons_.rend(); ++it) end_process(*it, 10);
    daemons_.clear();
    // Orphans adopted from slurmd (slurmstepd and what it started).
    for (int round = 0; round < 50; ++round) {
      const std::vector<pid_t> orphans = children();
      if (orphans.empty()) break;
      for (const pid_t pid : orphans) end_process(pid, 0);
    }
  }

 private:
  std::string conf() const { return dir_ + "/slurm.conf"; }
  std::string socket() const { return dir_ + "/munge.socket"; }

  template <typename Ready>
  static bool wait_for(Ready ready, double timeout_s) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (!ready()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return true;
  }

  // Waits for ready() while every daemon started so far runs: one that died has said why in its
  // log, and waiting on would only add the timeout.
  template <typename Ready>
  bool wait_until_up(Ready ready, double timeout_s) const {
    bool up = false;
    wait_for(
        [&] {
          for (const pid_t pid : daemons_)
            if (!running(pid)) return true;
          return up = ready();
        },
        timeout_s);
    return up;
  }

  // Whether a child still runs; one that has exited is reaped here, so its pid is never used
  // again by this class.
  static bool running(pid_t pid) { return ::waitpid(pid, nullptr, WNOHANG) == 0; }

  // SIGTERM, up to grace_s to exit, then SIGKILL; reaps it.
  static void end_process(pid_t pid, double grace_s) {
    if (!running(pid)) return;
    if (grace_s > 0) {
      ::kill(pid, SIGTERM);
      if (wait_for([&] { return !running(pid); }, grace_s)) return;
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }

  // This process's children (adopted orphans included), from the parent field of /proc/*/stat.
  static std::vector<pid_t> children() {
    std::vector<pid_t> found;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
      const std::string stat = slurp(entry.path().string() + "/stat");
      const size_t comm_end = stat.rfind(')');  // the command name may hold spaces
      if (comm_end == std::string::npos) continue;
      char state = 0;
      int parent = 0;
      if (std::sscanf(stat.c_str() + comm_end + 1, " %c %d", &state, &parent) == 2 &&
          parent == ::getpid())
        found.push_back(pid_t(std::stoi(entry.path().filename().string())));
    }
    return found;
  }

  pid_t spawn(const std::vector<std::string>& args, const std::string& log) const {
    std::vector<std::string> env_text;
    for (char** e = environ; *e; ++e) env_text.push_back(*e);
    env_text.push_back("SLURM_CONF=" + conf());
    std::vector<char*> argv, envp;
    std::vector<std::string> args_copy = args;
    for (auto& a : args_copy) argv.push_back(a.data());
    for (auto& e : env_text) envp.push_back(e.data());
    argv.push_back(nullptr);
    envp.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0) ::_exit(127);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    return pid;
  }

  void write_munge_key() const {
    std::random_device random;
    std::string key(1024, '\0');
    for (char& c : key) c = char(random());
    const std::string path = dir_ + "/munge.key";
    write_file_atomic(path, key);
    ::chmod(path.c_str(), 0600);
  }

  // Two free TCP ports on the loopback interface, held open together so they differ.
  static std::pair<int, int> free_ports() {
    int fds[2], ports[2];
    for (int i = 0; i < 2; ++i) {
      fds[i] = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in address = {};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      socklen_t size = sizeof address;
      ::bind(fds[i], reinterpret_cast<sockaddr*>(&address), size);
      ::getsockname(fds[i], reinterpret_cast<sockaddr*>(&address), &size);
      ports[i] = ntohs(address.sin_port);
    }
    ::close(fds[0]);
    ::close(fds[1]);
    return {ports[0], ports[1]};
  }

  void write_config() {
    char name[256] = {};
    ::gethostname(name, sizeof name - 1);
    host_ = std::string(name).substr(0, std::string(name).find('.'));  // slurmctld's own check
    const auto [controller_port, node_port] = free_ports();
    const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    write_file_atomic(conf(),
                      fmt::format(R"(ClusterName=moettest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={controller_port}
SlurmdPort={node_port}
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={dir}/munge.socket
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
KillWait=2
SlurmdParameters=config_overrides
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName=moet Nodes={host} Default=YES MaxTime=INFINITE State=UP
)",
                                  fmt::arg("host", host_), fmt::arg("dir", dir_),
                                  fmt::arg("controller_port", controller_port),
                                  fmt::arg("node_port", node_port), fmt::arg("cpus", cpus)));
  }

  std::string dir_, host_;
  std::vector<pid_t> daemons_;  // munged, slurmctld, slurmd
};

}  // namespace moet::testing
