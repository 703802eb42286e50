// Hostile and malformed HTTP against the real binary, over raw sockets: each
// request gets a clear status and a short JSON error, nothing is stored or
// quarantined unless its signature verified, and the service stays healthy.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "src/verification/signature_verifier.h"
#include "tests/ingress/ingress_test_support.h"
#include "tests/testing/bridge_process.h"

namespace paymento::bridge::ingress_test {
namespace {

using test_support::BridgeOptions;
using test_support::BridgeProcess;

constexpr char kSecret[] = "whsec_hostile_http_test";
// The defaults of HttpIngressOptions, which the binary uses.
constexpr absl::Duration kRequestTimeout = absl::Seconds(10);
constexpr absl::Duration kReadTimeout = absl::Seconds(5);

std::unique_ptr<BridgeProcess> StartBridge() {
  BridgeOptions options;
  options.environment["PAYMENTO_WEBHOOK_SECRET"] = kSecret;
  auto bridge = std::make_unique<BridgeProcess>(options);
  absl::Status started = bridge->Start();
  EXPECT_TRUE(started.ok()) << started.message();
  return bridge;
}

std::string Signed(absl::string_view body) {
  return HmacSha256Hex(kSecret, body);
}

// A request that verifies and is stored, to show the service still works.
void ExpectStillServing(const BridgeProcess& bridge, absl::string_view id) {
  EXPECT_EQ(Readiness(bridge), 200);
  std::string body =
      WebhookBody(id, "payment_link.paid", absl::Now() - absl::Minutes(1));
  RawResponse response =
      SendRaw(bridge.http_port(),
              HttpRequest("POST", "/webhook",
                          {{"X-Paymento-Signature", Signed(body)}}, body));
  EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.body, R"({"received":true})");
}

struct HostileCase {
  std::string name;
  std::string request;
  int status;
  // Part of the JSON "error" message.
  std::string error;
  bool closed;
  StoreEffect effect = StoreEffect::kNothing;
};

std::vector<HostileCase> HostileCases() {
  std::string event =
      WebhookBody("evt_hostile", "payment_link.paid", absl::Now());
  std::string large(300 * 1024, 'x');
  std::string many_headers;
  for (int i = 0; i < 10000; ++i) absl::StrAppend(&many_headers, "X-A: b\r\n");
  std::string invalid_utf8 =
      "{\"event\":{\"id\":\"evt_\xff\xfe\",\"type\":\"x\"}}";

  return {
      {"content length over limit, next request hidden in body",
       "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n"
       "GET /webhook HTTP/1.1\r\nHost: x\r\n\r\n",
       413, "too large", true},
      {"content length over limit, body sent",
       HttpRequest("POST", "/webhook", {}, large), 413, "too large", true},
      {"chunked body over limit",
       HttpRequest("POST", "/webhook", {{"Transfer-Encoding", "chunked"}},
                   Chunked(large, 16 * 1024)),
       413, "too large", true},
      {"chunk framing over limit",
       HttpRequest("POST", "/webhook", {{"Transfer-Encoding", "chunked"}},
                   Chunked(std::string(200 * 1024, 'x'), 1)),
       413, "too large", true},
      {"expect continue over limit",
       "POST /webhook HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
       "Content-Length: 300000\r\n\r\n",
       413, "too large", true},
      {"gzip content encoding",
       HttpRequest("POST", "/webhook",
                   {{"Content-Encoding", "gzip"},
                    {"X-Paymento-Signature", Signed(event)}},
                   event),
       415, "compressed", true},
      {"gzip content encoding on chunked body",
       HttpRequest("POST", "/webhook",
                   {{"Content-Encoding", "gzip"},
                    {"Transfer-Encoding", "chunked"},
                    {"X-Paymento-Signature", Signed(event)}},
                   Chunked(event, 64)),
       415, "compressed", true},
      {"brotli behind identity",
       HttpRequest("POST", "/webhook",
                   {{"Content-Encoding", "identity"},
                    {"Content-Encoding", "br"},
                    {"X-Paymento-Signature", Signed(event)}},
                   event),
       415, "compressed", true},
      {"gzip transfer encoding",
       HttpRequest("POST", "/webhook", {{"Transfer-Encoding", "gzip, chunked"}},
                   "0\r\n\r\n"),
       501, "transfer encoding", true},
      {"signed content length",
       "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: +2\r\n\r\n{}", 400,
       "Content-Length", true},
      {"two content lengths",
       "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
       "Content-Length: 3\r\n\r\n{}",
       400, "Content-Length", true},
      {"content length beside chunked",
       "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       400, "Content-Length", true},
      {"GET", HttpRequest("GET", "/webhook", {}, ""), 405, "method", true},
      {"PUT on webhook", HttpRequest("PUT", "/webhook", {}, event), 405,
       "method", true},
      {"DELETE", HttpRequest("DELETE", "/webhook", {}, ""), 405, "method",
       true},
      {"OPTIONS", HttpRequest("OPTIONS", "/webhook", {}, ""), 405, "method",
       true},
      {"unknown path", HttpRequest("POST", "/webhooks", {}, event), 404,
       "not found", true},
      {"ipn path without IPN secret",
       HttpRequest("POST", "/ipn", {}, GatewayBody(1, 7)), 404, "not found",
       true},
      {"unknown method", "BREW /webhook HTTP/1.1\r\nHost: x\r\n\r\n", 400,
       "invalid request", true},
      {"unsupported HTTP version", "POST /webhook HTTP/2.0\r\nHost: x\r\n\r\n",
       400, "invalid request", true},
      {"TLS handshake on plain port",
       std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15),
       400, "invalid request", true},
      {"request line over 8192 bytes",
       absl::StrCat("POST /", std::string(9000, 'a'),
                    " HTTP/1.1\r\nHost: x\r\n\r\n"),
       414, "request line", true},
      {"header line over 8192 bytes",
       absl::StrCat("POST /webhook HTTP/1.1\r\nHost: x\r\nX-Big: ",
                    std::string(9000, 'a'), "\r\n\r\n"),
       431, "headers", true},
      {"headers over 64 KiB",
       absl::StrCat("POST /webhook HTTP/1.1\r\nHost: x\r\n", many_headers,
                    "\r\n"),
       431, "headers", true},
      {"empty body without signature", HttpRequest("POST", "/webhook", {}, ""),
       401, "missing signature", false},
      {"no length and no chunking, read as empty",
       "POST /webhook HTTP/1.1\r\nHost: x\r\n\r\n", 401, "missing signature",
       false},
      {"wrong signature",
       HttpRequest(
           "POST", "/webhook",
           {{"X-Paymento-Signature", HmacSha256Hex("another secret", event)}},
           event),
       401, "invalid signature", false},
      {"signed empty body",
       HttpRequest("POST", "/webhook", {{"X-Paymento-Signature", Signed("")}},
                   ""),
       400, "JSON", false, StoreEffect::kQuarantined},
      {"signed invalid UTF-8",
       HttpRequest("POST", "/webhook",
                   {{"X-Paymento-Signature", Signed(invalid_utf8)}},
                   invalid_utf8),
       400, "JSON", false, StoreEffect::kQuarantined},
  };
}

TEST(HostileHttpTest, RejectionsTable) {
  std::unique_ptr<BridgeProcess> bridge = StartBridge();
  ASSERT_TRUE(bridge->running());
  StoreProbe probe(*bridge);

  for (const HostileCase& test : HostileCases()) {
    SCOPED_TRACE(test.name);
    probe.Mark();
    RawResponse response = SendRaw(bridge->http_port(), test.request,
                                   absl::Seconds(5), absl::Milliseconds(500));

    EXPECT_EQ(response.status, test.status)
        << response.headers << response.body;
    nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << response.body;
    ASSERT_TRUE(body.contains("error")) << response.body;
    EXPECT_TRUE(absl::StrContains(body["error"].get<std::string>(), test.error))
        << response.body;
    EXPECT_EQ(response.Header("Content-Type"), "application/json");
    EXPECT_EQ(response.closed, test.closed);
    if (test.closed) {
      EXPECT_EQ(response.Header("Connection"), "close");
    }
    EXPECT_LE(response.HeaderCount("Connection"), 1) << response.headers;
    EXPECT_LT(response.elapsed, absl::Seconds(2));
    EXPECT_EQ(EffectName(probe.SinceMark()), EffectName(test.effect));
  }

  ExpectStillServing(*bridge, "evt_hostile_after");
}

TEST(HostileHttpTest, ClosingRejectionHasOneConnectionHeader) {
  std::unique_ptr<BridgeProcess> bridge = StartBridge();
  ASSERT_TRUE(bridge->running());

  // The client asks to close, and the rejection closes too.
  RawResponse response =
      SendRaw(bridge->http_port(),
              HttpRequest("GET", "/elsewhere", {{"Connection", "close"}}, ""),
              absl::Seconds(5), absl::Milliseconds(500));
  EXPECT_EQ(response.status, 404) << response.headers;
  EXPECT_EQ(response.Header("Connection"), "close");
  EXPECT_EQ(response.HeaderCount("Connection"), 1) << response.headers;
}

TEST(HostileHttpTest, UnreadBodyIsNeverParsed) {
  std::unique_ptr<BridgeProcess> bridge = StartBridge();
  ASSERT_TRUE(bridge->running());

  // The body arrives after the response, in its own segment.
  RawConnection connection(bridge->http_port());
  ASSERT_TRUE(connection.Send(
      "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n"));
  RawResponse response =
      connection.ReadResponse(absl::Seconds(5), absl::ZeroDuration());
  EXPECT_EQ(response.status, 413);
  connection.Send("GET /webhook HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string rest = connection.ReadAll(absl::Seconds(3));
  EXPECT_FALSE(absl::StrContains(rest, "HTTP/1.1")) << rest;
  ExpectStillServing(*bridge, "evt_unread_after");
}

TEST(HostileHttpTest, PipelinedRequestsAreAllAnswered) {
  std::unique_ptr<BridgeProcess> bridge = StartBridge();
  ASSERT_TRUE(bridge->running());
  std::string first =
      WebhookBody("evt_pipe_1", "payment_link.paid", absl::Now());
  std::string second =
      WebhookBody("evt_pipe_2", "payment_link.paid", absl::Now());

  RawConnection connection(bridge->http_port());
  ASSERT_TRUE(connection.Send(absl::StrCat(
      HttpRequest("POST", "/webhook", {{"X-Paymento-Signature", Signed(first)}},
                  first),
      HttpRequest("POST", "/webhook",
                  {{"X-Paymento-Signature", Signed(second)}}, second))));
  RawResponse one =
      connection.ReadResponse(absl::Seconds(5), absl::ZeroDuration());
  RawResponse two =
      connection.ReadResponse(absl::Seconds(5), absl::ZeroDuration());
  EXPECT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(two.status, 200) << two.body;
  StoreProbe probe(*bridge);
  EXPECT_TRUE(probe.GetEvent("evt_pipe_1").has_value());
  EXPECT_TRUE(probe.GetEvent("evt_pipe_2").has_value());
}

// One slow client: sends `head` at once, then `trickle` one byte per
// `interval`, reading for a response between bytes.
struct SlowClient {
  SlowClient(std::string name, std::string head, std::string trickle,
             absl::Duration interval)
      : name(std::move(name)),
        head(std::move(head)),
        trickle(std::move(trickle)),
        interval(interval) {}

  std::string name;
  std::string head;
  std::string trickle;
  absl::Duration interval;
  int status = 0;
  absl::Duration responded_after;
};

void RunSlowClient(int port, SlowClient& client) {
  RawConnection connection(port);
  absl::Time start = absl::Now();
  connection.Send(client.head);
  size_t next = 0;
  while (absl::Now() - start < absl::Seconds(30)) {
    RawResponse response = connection.ReadResponse(client.interval);
    if (response.status != 0 || response.closed) {
      client.status = response.status;
      client.responded_after = absl::Now() - start;
      return;
    }
    if (next < client.trickle.size()) {
      connection.Send(client.trickle.substr(next++, 1));
    }
  }
}

TEST(HostileHttpTest, SlowClientsAreCutOff) {
  std::unique_ptr<BridgeProcess> bridge = StartBridge();
  ASSERT_TRUE(bridge->running());
  std::string body(100, 'x');
  std::vector<SlowClient> clients = {
      {"headers one line per second", "POST /webhook HTTP/1.1\r\n",
       std::string(1000, 'h'), absl::Seconds(1)},
      {"body one byte per second",
       "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", body,
       absl::Seconds(1)},
      {"body stalls",
       "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: "
       "100\r\n\r\n0123456789",
       "", absl::Seconds(1)},
  };
  std::vector<std::thread> threads;
  for (SlowClient& client : clients) {
    threads.emplace_back(
        [&bridge, &client] { RunSlowClient(bridge->http_port(), client); });
  }
  // A client that goes away in the middle of its body.
  {
    RawConnection departing(bridge->http_port());
    departing.Send(
        "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{");
  }
  for (std::thread& thread : threads) thread.join();

  // Trickling clients are cut off at the request deadline, a stalled one at
  // the read timeout. The slack above covers a loaded machine.
  const absl::Duration early = absl::Milliseconds(500);
  const absl::Duration slack = absl::Seconds(2);
  EXPECT_EQ(clients[0].status, 408) << clients[0].name;
  EXPECT_GE(clients[0].responded_after, kRequestTimeout - early);
  EXPECT_LE(clients[0].responded_after, kRequestTimeout + slack);
  EXPECT_EQ(clients[1].status, 408) << clients[1].name;
  EXPECT_GE(clients[1].responded_after, kRequestTimeout - early);
  EXPECT_LE(clients[1].responded_after, kRequestTimeout + slack);
  EXPECT_EQ(clients[2].status, 408) << clients[2].name;
  EXPECT_GE(clients[2].responded_after, kReadTimeout - early);
  EXPECT_LE(clients[2].responded_after, kReadTimeout + slack);

  StoreProbe probe(*bridge);
  EXPECT_TRUE(probe.AllQuarantined().empty());
  ExpectStillServing(*bridge, "evt_slow_after");
  EXPECT_TRUE(bridge->WaitForOutput("status=408")) << bridge->Output();
}

TEST(HostileHttpTest, IdleKeepAliveConnectionsLeaveRoom) {
  std::unique_ptr<BridgeProcess> bridge = StartBridge();
  ASSERT_TRUE(bridge->running());

  // A hundred connections that each send one request and then stay open,
  // holding a pool thread each.
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 100; ++i) {
    auto connection = std::make_unique<RawConnection>(bridge->http_port());
    ASSERT_TRUE(connection->Send(HttpRequest("POST", "/webhook", {}, "")));
    RawResponse response =
        connection->ReadResponse(absl::Seconds(5), absl::ZeroDuration());
    ASSERT_EQ(response.status, 401);
    ASSERT_FALSE(response.closed);
    idle.push_back(std::move(connection));
  }

  for (int i = 0; i < 5; ++i) {
    std::string body = WebhookBody(absl::StrCat("evt_idle_", i),
                                   "payment_link.paid", absl::Now());
    absl::Time start = absl::Now();
    RawResponse response =
        SendRaw(bridge->http_port(),
                HttpRequest("POST", "/webhook",
                            {{"X-Paymento-Signature", Signed(body)}}, body));
    EXPECT_EQ(response.status, 200) << response.body;
    EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  }

  // The keep-alive timeout (2 s) closes every idle connection.
  absl::SleepFor(absl::Milliseconds(2500));
  int closed = 0;
  for (auto& connection : idle) {
    connection->ReadAll(absl::Milliseconds(500));
    if (connection->peer_closed()) ++closed;
  }
  EXPECT_EQ(closed, 100);
}

}  // namespace
}  // namespace paymento::bridge::ingress_test
