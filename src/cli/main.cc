// Entry point of the paymento-bridge binary: dispatches to a subcommand.
#include <iostream>
#include <string>
#include <vector>

#include "src/cli/commands.h"

namespace {

constexpr char kUsage[] =
    "usage: paymento-bridge COMMAND [flags]\n"
    "\n"
    "commands:\n"
    "  serve      run the service\n"
    "  send-test  sign and post a sample Paymento event\n"
    "  tail       print a live event stream as JSON lines\n"
    "  get        print one event and its status\n"
    "  list       print events matching filters\n"
    "  backup     copy a SQLite store, also while the service runs\n"
    "  migrate    copy a SQLite store into an empty PostgreSQL database\n"
    "\n"
    "Run paymento-bridge COMMAND --help for the flags of a command.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  std::string command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "serve") return paymento::bridge::RunServe(args);
  if (command == "send-test") return paymento::bridge::RunSendTest(args);
  if (command == "tail") return paymento::bridge::RunTail(args);
  if (command == "get") return paymento::bridge::RunGet(args);
  if (command == "list") return paymento::bridge::RunList(args);
  if (command == "backup") return paymento::bridge::RunBackup(args);
  if (command == "migrate") return paymento::bridge::RunMigrate(args);
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  std::cerr << "unknown command \"" << command << "\"\n\n" << kUsage;
  return 2;
}
