// Health endpoints of the real binary: /healthz, /readyz, the standard gRPC
// health service and server reflection.
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/operations/operations_support.h"

namespace paymento::bridge::test_support {
namespace {

using ServingStatus = grpc::health::v1::HealthCheckResponse;

TEST(HealthTest, ReadyAfterStart) {
  BridgeProcess bridge(OperationsOptions());
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();
  httplib::Client client(bridge.admin_base());
  httplib::Result alive = client.Get("/healthz");
  ASSERT_TRUE(alive);
  EXPECT_EQ(alive->status, 200);
  EXPECT_EQ(ReadyzStatus(bridge), 200);

  absl::StatusOr<ServingStatus::ServingStatus> health =
      CheckHealth(PlaintextChannel(bridge));
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, ServingStatus::SERVING);
}

TEST(HealthTest, AdminPortAllowsOnlyGet) {
  BridgeProcess bridge(OperationsOptions());
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();
  httplib::Client client(bridge.admin_base());
  for (const char* path : {"/healthz", "/readyz", "/metrics"}) {
    SCOPED_TRACE(path);
    httplib::Result posted = client.Post(path, "x", "text/plain");
    ASSERT_TRUE(posted);
    EXPECT_EQ(posted->status, 405);
    EXPECT_EQ(posted->get_header_value("Allow"), "GET, HEAD");
    httplib::Result head = client.Head(path);
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200);
  }
  httplib::Result unknown = client.Get("/admin");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(unknown->body, R"({"error":"not found"})");
}

TEST(HealthTest, ReflectionListsServices) {
  BridgeProcess bridge(OperationsOptions());
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();
  absl::StatusOr<std::vector<std::string>> services =
      ListServicesByReflection(PlaintextChannel(bridge));
  ASSERT_TRUE(services.ok()) << services.status();
  auto listed = [&](const std::string& name) {
    return std::find(services->begin(), services->end(), name) !=
           services->end();
  };
  EXPECT_TRUE(listed("paymento.bridge.v1.EventService"));
  EXPECT_TRUE(listed("grpc.health.v1.Health"));
  EXPECT_TRUE(listed("grpc.reflection.v1alpha.ServerReflection"));
}

}  // namespace
}  // namespace paymento::bridge::test_support
