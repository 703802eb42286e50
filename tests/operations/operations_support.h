// Helpers for the operations tests: signed webhooks, scraping /metrics,
// gRPC health and reflection clients, test certificates made with the
// openssl command, and running other programs.
#ifndef PAYMENTO_BRIDGE_TESTS_OPERATIONS_OPERATIONS_SUPPORT_H_
#define PAYMENTO_BRIDGE_TESTS_OPERATIONS_OPERATIONS_SUPPORT_H_

#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "paymento/bridge/v1/event_service.grpc.pb.h"
#include "tests/testing/bridge_process.h"

namespace paymento::bridge::test_support {

inline constexpr char kWebhookSecret[] = "whsec_operations_test";

// Options with the webhook secret set and no drain delay, so that a test
// that stops the bridge does not wait for load balancers that do not exist.
BridgeOptions OperationsOptions();

// Posts `body` to the webhook path, signed with kWebhookSecret.
httplib::Result PostSigned(const BridgeProcess& bridge,
                           const std::string& body);
// The same through `client`, which may be an HTTPS client.
httplib::Result PostSignedWith(httplib::Client& client,
                               const std::string& body);
// Posts a signed sample event of `type` with id `id`.
httplib::Result PostEvent(const BridgeProcess& bridge, const std::string& type,
                          const std::string& id);

// Series such as `x_total{reason="stale"}`, mapped to their values.
using MetricSamples = std::map<std::string, double>;

// Scrapes GET /metrics; empty when the scrape fails.
MetricSamples ScrapeMetrics(const BridgeProcess& bridge);
// Returns the sample's value, or 0 when the series is absent.
double SampleValue(const MetricSamples& samples, const std::string& series);
// Returns the sum of every series of the metric `name`, whatever its labels.
double SumValues(const MetricSamples& samples, const std::string& name);

// Returns the status code of GET /readyz, or -1 without a response.
int ReadyzStatus(const BridgeProcess& bridge);

std::shared_ptr<grpc::Channel> PlaintextChannel(const BridgeProcess& bridge);
std::unique_ptr<v1::EventService::Stub> EventStub(
    const std::shared_ptr<grpc::Channel>& channel);

// Runs the standard gRPC health check for the whole server.
absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus>
CheckHealth(const std::shared_ptr<grpc::Channel>& channel);

// Lists the server's services through server reflection.
absl::StatusOr<std::vector<std::string>> ListServicesByReflection(
    const std::shared_ptr<grpc::Channel>& channel);

// Looks an event up by id with GetEvent; `token`, if not empty, is sent as
// a bearer token.
grpc::Status GetEvent(v1::EventService::Stub& stub, const std::string& id,
                      const std::string& token = "");

// Runs `argv` (argv[0] is a path), waits, and returns the exit code, or -1
// when it did not exit normally. Standard output and error go to `output`.
int RunProgram(const std::vector<std::string>& argv, std::string* output);

// A TCP socket listening on a free loopback port, without SO_REUSEPORT, so
// that no other process can bind the port while it is open.
class OccupiedPort {
 public:
  OccupiedPort();
  ~OccupiedPort();
  OccupiedPort(const OccupiedPort&) = delete;
  OccupiedPort& operator=(const OccupiedPort&) = delete;

  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

std::string ReadTextFile(const std::string& path);
void WriteTextFile(const std::string& path, const std::string& contents);

// PEM files under one directory, made by GenerateCertificates.
struct TestCertificates {
  std::string ca_certificate;
  std::string server_certificate;  // for localhost and 127.0.0.1
  std::string server_key;
  std::string client_certificate;  // signed by the same CA
  std::string client_key;
  std::string other_key;  // matches no certificate
};

// Makes a CA, a server and a client certificate (EC P-256, valid one day)
// with the openssl command in `directory`.
absl::StatusOr<TestCertificates> GenerateCertificates(
    const std::string& directory);

}  // namespace paymento::bridge::test_support

#endif  // PAYMENTO_BRIDGE_TESTS_OPERATIONS_OPERATIONS_SUPPORT_H_
