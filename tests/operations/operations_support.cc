#include "tests/operations/operations_support.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "paymento/bridge/testing/reflection_messages.pb.h"
#include "src/cli/sample_event.h"
#include "src/verification/signature_verifier.h"

namespace paymento::bridge::test_support {
namespace {

std::chrono::system_clock::time_point SecondsFromNow(int seconds) {
  return std::chrono::system_clock::now() + std::chrono::seconds(seconds);
}

absl::Status Openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {PAYMENTO_BRIDGE_OPENSSL_PROGRAM};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string output;
  int code = RunProgram(argv, &output);
  if (code != 0) {
    return absl::InternalError(
        absl::StrCat("openssl ", args.front(), " failed: ", output));
  }
  return absl::OkStatus();
}

absl::Status NewKey(const std::string& path) {
  return Openssl({"genpkey", "-algorithm", "EC", "-pkeyopt",
                  "ec_paramgen_curve:P-256", "-out", path});
}

// Signs a certificate for `key` with the CA, with the extensions given as
// lines of an OpenSSL extensions file.
absl::Status SignCertificate(const std::string& directory,
                             const std::string& name, const std::string& key,
                             const std::string& extensions,
                             const std::string& certificate) {
  std::string request = absl::StrCat(directory, "/", name, ".csr");
  std::string extension_file = absl::StrCat(directory, "/", name, ".ext");
  WriteTextFile(extension_file, extensions);
  absl::Status status = Openssl({"req", "-new", "-key", key, "-subj",
                                 absl::StrCat("/CN=", name), "-out", request});
  if (!status.ok()) return status;
  return Openssl({"x509", "-req", "-in", request, "-CA",
                  absl::StrCat(directory, "/ca.pem"), "-CAkey",
                  absl::StrCat(directory, "/ca.key"), "-CAcreateserial",
                  "-days", "1", "-extfile", extension_file, "-out",
                  certificate});
}

}  // namespace

BridgeOptions OperationsOptions() {
  BridgeOptions options;
  options.environment["PAYMENTO_WEBHOOK_SECRET"] = kWebhookSecret;
  options.extra_args.push_back("--drain-delay=0s");
  return options;
}

httplib::Result PostSigned(const BridgeProcess& bridge,
                           const std::string& body) {
  httplib::Client client(bridge.http_base());
  return PostSignedWith(client, body);
}

httplib::Result PostSignedWith(httplib::Client& client,
                               const std::string& body) {
  client.set_read_timeout(10);
  httplib::Headers headers = {
      {"X-Paymento-Signature", HmacSha256Hex(kWebhookSecret, body)}};
  return client.Post("/webhook", headers, body, "application/json");
}

httplib::Result PostEvent(const BridgeProcess& bridge, const std::string& type,
                          const std::string& id) {
  return PostSigned(bridge, SampleWebhookBody(type, id, absl::Now()));
}

MetricSamples ScrapeMetrics(const BridgeProcess& bridge) {
  MetricSamples samples;
  httplib::Client client(bridge.admin_base());
  httplib::Result page = client.Get("/metrics");
  if (!page || page->status != 200) return samples;
  for (absl::string_view line : absl::StrSplit(page->body, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    if (space == absl::string_view::npos) continue;
    double value = 0;
    if (absl::SimpleAtod(line.substr(space + 1), &value)) {
      samples[std::string(line.substr(0, space))] = value;
    }
  }
  return samples;
}

double SampleValue(const MetricSamples& samples, const std::string& series) {
  auto found = samples.find(series);
  return found == samples.end() ? 0 : found->second;
}

double SumValues(const MetricSamples& samples, const std::string& name) {
  double sum = 0;
  for (const auto& [series, value] : samples) {
    if (series == name || series.rfind(name + "{", 0) == 0) sum += value;
  }
  return sum;
}

int ReadyzStatus(const BridgeProcess& bridge) {
  httplib::Client client(bridge.admin_base());
  client.set_connection_timeout(1);
  client.set_read_timeout(2);
  httplib::Result result = client.Get("/readyz");
  return result ? result->status : -1;
}

std::shared_ptr<grpc::Channel> PlaintextChannel(const BridgeProcess& bridge) {
  return grpc::CreateChannel(bridge.grpc_address(),
                             grpc::InsecureChannelCredentials());
}

std::unique_ptr<v1::EventService::Stub> EventStub(
    const std::shared_ptr<grpc::Channel>& channel) {
  return v1::EventService::NewStub(channel);
}

absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus>
CheckHealth(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(SecondsFromNow(5));
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        status.error_message());
  }
  return response.status();
}

absl::StatusOr<std::vector<std::string>> ListServicesByReflection(
    const std::shared_ptr<grpc::Channel>& channel) {
  using Request = ::paymento::bridge::testing::ServerReflectionRequest;
  using Response = ::paymento::bridge::testing::ServerReflectionResponse;
  // The generated reflection stub is not installed; this is the call it
  // would make, with wire-compatible messages.
  grpc::internal::RpcMethod method(
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      grpc::internal::RpcMethod::BIDI_STREAMING, channel);
  grpc::ClientContext context;
  context.set_deadline(SecondsFromNow(5));
  std::unique_ptr<grpc::ClientReaderWriter<Request, Response>> stream(
      grpc::internal::ClientReaderWriterFactory<Request, Response>::Create(
          channel.get(), method, &context));
  Request request;
  request.set_list_services("");
  Response response;
  bool answered =
      stream->Write(request) && stream->WritesDone() && stream->Read(&response);
  grpc::Status status = stream->Finish();
  if (!answered || !status.ok()) {
    return absl::UnavailableError(
        absl::StrCat("reflection failed: ", status.error_message()));
  }
  std::vector<std::string> names;
  for (const auto& service : response.list_services_response().service()) {
    names.push_back(service.name());
  }
  return names;
}

grpc::Status GetEvent(v1::EventService::Stub& stub, const std::string& id,
                      const std::string& token) {
  grpc::ClientContext context;
  context.set_deadline(SecondsFromNow(5));
  if (!token.empty()) {
    context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  }
  v1::GetEventRequest request;
  request.set_id(id);
  v1::EventStatus response;
  return stub.GetEvent(&context, request, &response);
}

int RunProgram(const std::vector<std::string>& argv, std::string* output) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pipe_fds[1], STDOUT_FILENO);
    dup2(pipe_fds[1], STDERR_FILENO);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    std::vector<char*> args;
    for (const std::string& arg : argv) {
      args.push_back(const_cast<char*>(arg.c_str()));
    }
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  output->clear();
  char buffer[4096];
  ssize_t count = 0;
  while ((count = read(pipe_fds[0], buffer, sizeof(buffer))) > 0) {
    output->append(buffer, static_cast<size_t>(count));
  }
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string ReadTextFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

void WriteTextFile(const std::string& path, const std::string& contents) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << contents;
}

absl::StatusOr<TestCertificates> GenerateCertificates(
    const std::string& directory) {
  TestCertificates files;
  files.ca_certificate = absl::StrCat(directory, "/ca.pem");
  files.server_certificate = absl::StrCat(directory, "/server.pem");
  files.server_key = absl::StrCat(directory, "/server.key");
  files.client_certificate = absl::StrCat(directory, "/client.pem");
  files.client_key = absl::StrCat(directory, "/client.key");
  files.other_key = absl::StrCat(directory, "/other.key");
  std::string ca_key = absl::StrCat(directory, "/ca.key");

  for (const std::string& key :
       {ca_key, files.server_key, files.client_key, files.other_key}) {
    absl::Status made = NewKey(key);
    if (!made.ok()) return made;
  }
  absl::Status status = Openssl({"req", "-x509", "-new", "-key", ca_key,
                                 "-subj", "/CN=paymento-bridge-test-ca",
                                 "-days", "1", "-out", files.ca_certificate});
  if (status.ok()) {
    status = SignCertificate(directory, "server", files.server_key,
                             "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                             "extendedKeyUsage=serverAuth\n",
                             files.server_certificate);
  }
  if (status.ok()) {
    status = SignCertificate(directory, "client", files.client_key,
                             "extendedKeyUsage=clientAuth\n",
                             files.client_certificate);
  }
  if (!status.ok()) return status;
  return files;
}

OccupiedPort::OccupiedPort() {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  listen(fd_, 1);
  socklen_t length = sizeof(address);
  getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin_port);
}

OccupiedPort::~OccupiedPort() { close(fd_); }

}  // namespace paymento::bridge::test_support
