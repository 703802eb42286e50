// The client subcommands: `send-test` posts a signed sample webhook, `tail`
// prints a live stream, `get` and `list` query events over gRPC.
#include <httplib.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "paymento/bridge/v1/event_service.grpc.pb.h"
#include "src/cli/commands.h"
#include "src/cli/sample_event.h"
#include "src/config/api_tokens.h"
#include "src/config/flag_parser.h"
#include "src/verification/secret_source.h"
#include "src/verification/signature_verifier.h"

namespace paymento::bridge {
namespace {

constexpr char kGrpcAddressHelp[] =
    "Address of the bridge's gRPC API, host:port.";

std::string ToJsonLine(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options)
           .ok()) {
    return R"({"error":"event cannot be printed as JSON"})";
  }
  return json;
}

// Parses the flags of a client command; prints usage or the error and
// returns false when the command must stop with `exit_code`.
bool ParseClientFlags(FlagParser& parser, const std::vector<std::string>& args,
                      const std::string& usage, int* exit_code) {
  parser.AddSwitch("help", "Print this help and exit.");
  absl::Status parsed = parser.Parse(args);
  if (!parsed.ok()) {
    std::cerr << parsed.message() << "\n";
    *exit_code = 2;
    return false;
  }
  if (parser.IsSet("help")) {
    std::cout << usage << "\nflags:\n" << parser.Usage();
    *exit_code = 0;
    return false;
  }
  return true;
}

// Declares the connection flags of every gRPC client command. The client
// certificate flags have their own names, so that a client run beside the
// server never picks up the server's --grpc-tls-cert from the environment.
void AddGrpcClientFlags(FlagParser& parser) {
  parser.Add("grpc-address", "127.0.0.1:50051", kGrpcAddressHelp);
  parser.Add("grpc-tls-ca", "",
             "PEM CA certificates that signed the server's certificate; "
             "connects with TLS when set. The certificate must name the host "
             "of --grpc-address.");
  parser.Add("grpc-tls-client-cert", "",
             "PEM client certificate chain, for a server that requires one; "
             "needs --grpc-tls-ca and --grpc-tls-client-key.");
  parser.Add("grpc-tls-client-key", "",
             "PEM private key of --grpc-tls-client-cert.");
}

// A connection to the bridge's gRPC API with the caller's credentials.
struct GrpcClient {
  std::string address;
  std::unique_ptr<v1::EventService::Stub> stub;
  // From PAYMENTO_BRIDGE_GRPC_TOKEN or its _FILE; empty when unset.
  std::string token;

  // Adds the token, if any, to a call's metadata.
  void Authorize(grpc::ClientContext& context) const {
    if (!token.empty()) {
      context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
    }
  }
};

absl::StatusOr<std::string> ReadPemFlag(const FlagParser& parser,
                                        const std::string& flag) {
  const std::string& path = parser.Get(flag);
  if (path.empty()) return std::string();
  std::ifstream file(path, std::ios::binary);
  std::stringstream contents;
  contents << file.rdbuf();
  if (!file || contents.str().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read --", flag, " ", path));
  }
  return contents.str();
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(
    const FlagParser& parser) {
  grpc::SslCredentialsOptions options;
  for (auto [flag, field] :
       {std::pair{"grpc-tls-ca", &options.pem_root_certs},
        std::pair{"grpc-tls-client-cert", &options.pem_cert_chain},
        std::pair{"grpc-tls-client-key", &options.pem_private_key}}) {
    absl::StatusOr<std::string> pem = ReadPemFlag(parser, flag);
    if (!pem.ok()) return pem.status();
    *field = *std::move(pem);
  }
  if (options.pem_root_certs.empty()) {
    if (!options.pem_cert_chain.empty() || !options.pem_private_key.empty()) {
      return absl::InvalidArgumentError(
          "--grpc-tls-client-cert and --grpc-tls-client-key need "
          "--grpc-tls-ca");
    }
    return grpc::InsecureChannelCredentials();
  }
  if (options.pem_cert_chain.empty() != options.pem_private_key.empty()) {
    return absl::InvalidArgumentError(
        "--grpc-tls-client-cert and --grpc-tls-client-key must be set "
        "together");
  }
  return grpc::SslCredentials(options);
}

// Connects with the TLS files of the flags and the token of the
// environment. On error, prints the error and returns nullopt.
std::optional<GrpcClient> Connect(const FlagParser& parser) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      ChannelCredentials(parser);
  absl::StatusOr<std::string> token =
      LoadToken(ProcessEnvironment(), kClientTokenVariable);
  absl::Status status =
      credentials.ok() ? token.status() : credentials.status();
  if (!status.ok()) {
    std::cerr << status.message() << "\n";
    return std::nullopt;
  }
  GrpcClient client;
  client.address = parser.Get("grpc-address");
  client.stub = v1::EventService::NewStub(
      grpc::CreateChannel(client.address, *credentials));
  client.token = *std::move(token);
  return client;
}

int ReportRpcError(const std::string& rpc, const grpc::Status& status,
                   const std::string& address) {
  std::cerr << rpc << " failed: " << status.error_message() << " (code "
            << status.error_code() << ", address " << address << ")\n";
  return 1;
}

std::vector<std::string> SplitTypes(const std::string& types) {
  return absl::StrSplit(types, ',', absl::SkipWhitespace());
}

}  // namespace

int RunSendTest(const std::vector<std::string>& args) {
  FlagParser parser(ProcessEnvironment());
  parser.Add("type", "payment_link.paid",
             "Event type to send; any string is accepted.");
  parser.Add("url", "http://127.0.0.1:8080/webhook",
             "Webhook URL to post to, http:// or https://.");
  parser.Add("ca-file", "",
             "PEM CA certificates that an https:// URL's certificate must "
             "chain to; the system's CAs when empty.");
  parser.Add("scheme", "body",
             "Signature scheme: body (HMAC of the body) or header (HMAC of "
             "id:type:timestamp).");
  parser.Add("id", "", "Event id; a new random id when empty.");
  int exit_code = 0;
  if (!ParseClientFlags(parser, args,
                        "usage: paymento-bridge send-test [--type TYPE] "
                        "[--url URL] [--ca-file PEM]\n\nSigns with the first secret of "
                        "PAYMENTO_WEBHOOK_SECRET or PAYMENTO_WEBHOOK_SECRET_FILE.",
                        &exit_code)) {
    return exit_code;
  }
  absl::StatusOr<std::unique_ptr<SecretSource>> secrets =
      SecretSource::FromEnvironment("PAYMENTO_WEBHOOK_SECRET", true);
  if (!secrets.ok()) {
    std::cerr << secrets.status().message() << "\n";
    return 2;
  }
  const std::string secret = (*secrets)->Current()->secrets().front().value;
  const std::string& scheme = parser.Get("scheme");
  if (scheme != "body" && scheme != "header") {
    std::cerr << "invalid --scheme \"" << scheme << "\": use body or header\n";
    return 2;
  }

  std::string id = parser.Get("id").empty() ? NewTestEventId()
                                            : parser.Get("id");
  const std::string& type = parser.Get("type");
  if (type.empty()) {
    // The bridge returns 400 for a body without an event type.
    std::cerr << "invalid --type \"\": give an event type such as "
                 "payment_link.paid\n";
    return 2;
  }
  absl::Time now = absl::Now();
  std::string body = SampleWebhookBody(type, id, now);
  std::string timestamp = absl::StrCat(absl::ToUnixSeconds(now));
  std::string signature =
      scheme == "body"
          ? HmacSha256Hex(secret, body)
          : HmacSha256Hex(secret, absl::StrCat(id, ":", type, ":", timestamp));

  const std::string& url = parser.Get("url");
  size_t path_start = url.find('/', url.find("://") + 3);
  if (url.find("://") == std::string::npos || path_start == std::string::npos) {
    std::cerr << "invalid --url \"" << url
              << "\": use http://HOST:PORT/PATH\n";
    return 2;
  }
  httplib::Client client(url.substr(0, path_start));
  if (!client.is_valid()) {
    std::cerr << "invalid --url \"" << url
              << "\": use http://HOST:PORT/PATH or https://HOST:PORT/PATH\n";
    return 2;
  }
  if (!parser.Get("ca-file").empty()) {
    client.set_ca_cert_path(parser.Get("ca-file").c_str());
  }
  client.set_connection_timeout(5);
  client.set_read_timeout(10);
  httplib::Headers headers = {{"X-Paymento-Signature", signature},
                              {"X-Paymento-Timestamp", timestamp},
                              {"X-Paymento-Event-Id", id},
                              {"X-Paymento-Event-Type", type}};
  httplib::Result result =
      client.Post(url.substr(path_start), headers, body, "application/json");
  if (!result) {
    std::cerr << "POST " << url << " failed: "
              << httplib::to_string(result.error()) << "\n";
    return 1;
  }
  std::cout << "POST " << url << " event_id=" << id << " type=" << type
            << "\n" << result->status << " " << result->body << "\n";
  return result->status == 200 ? 0 : 1;
}

int RunTail(const std::vector<std::string>& args) {
  FlagParser parser(ProcessEnvironment());
  AddGrpcClientFlags(parser);
  parser.Add("types", "",
             "Comma-separated types or prefixes such as 'payment_link.*'; "
             "empty means every type.");
  parser.Add("from", "latest",
             "Where to start: latest, earliest, or a sequence number "
             "(exclusive).");
  int exit_code = 0;
  if (!ParseClientFlags(parser, args,
                        "usage: paymento-bridge tail [--types T,...] "
                        "[--from earliest|latest|SEQ]\n\nPrints one JSON "
                        "object per event on stdout.",
                        &exit_code)) {
    return exit_code;
  }
  v1::SubscribeRequest request;
  for (const std::string& type : SplitTypes(parser.Get("types"))) {
    request.add_event_types(type);
  }
  const std::string& from = parser.Get("from");
  int64_t sequence = 0;
  if (from == "earliest") {
    request.set_position(v1::START_POSITION_EARLIEST);
  } else if (from == "latest") {
    request.set_position(v1::START_POSITION_LATEST);
  } else if (absl::SimpleAtoi(from, &sequence) && sequence >= 0) {
    request.set_after_sequence(sequence);
  } else {
    std::cerr << "invalid --from \"" << from
              << "\": use latest, earliest or a sequence number\n";
    return 2;
  }

  std::optional<GrpcClient> client = Connect(parser);
  if (!client.has_value()) return 2;
  grpc::ClientContext context;
  client->Authorize(context);
  std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader =
      client->stub->Subscribe(&context, request);
  v1::SubscribeResponse response;
  while (reader->Read(&response)) {
    for (const v1::Delivery& delivery : response.deliveries()) {
      std::cout << ToJsonLine(delivery.event()) << std::endl;
    }
  }
  return ReportRpcError("Subscribe", reader->Finish(), client->address);
}

int RunGet(const std::vector<std::string>& args) {
  FlagParser parser(ProcessEnvironment());
  AddGrpcClientFlags(parser);
  parser.Add("sequence", "", "Look the event up by sequence number instead.");
  int exit_code = 0;
  if (!ParseClientFlags(parser, args,
                        "usage: paymento-bridge get EVENT_ID | --sequence N",
                        &exit_code)) {
    return exit_code;
  }
  v1::GetEventRequest request;
  int64_t sequence = 0;
  if (!parser.Get("sequence").empty()) {
    if (!absl::SimpleAtoi(parser.Get("sequence"), &sequence)) {
      std::cerr << "invalid --sequence \"" << parser.Get("sequence")
                << "\": use a number\n";
      return 2;
    }
    request.set_sequence(sequence);
  } else if (parser.positional().size() == 1) {
    request.set_id(parser.positional().front());
  } else {
    std::cerr << "usage: paymento-bridge get EVENT_ID | --sequence N\n";
    return 2;
  }
  std::optional<GrpcClient> client = Connect(parser);
  if (!client.has_value()) return 2;
  grpc::ClientContext context;
  client->Authorize(context);
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  v1::EventStatus status;
  grpc::Status rpc = client->stub->GetEvent(&context, request, &status);
  if (!rpc.ok()) return ReportRpcError("GetEvent", rpc, client->address);
  std::cout << ToJsonLine(status) << "\n";
  return 0;
}

int RunList(const std::vector<std::string>& args) {
  FlagParser parser(ProcessEnvironment());
  AddGrpcClientFlags(parser);
  parser.Add("types", "", "Comma-separated types or prefixes.");
  parser.Add("email", "", "Customer e-mail address.");
  parser.Add("payment-link", "", "Payment link id.");
  parser.Add("page-size", "100", "Events per page, at most 1000.");
  parser.Add("page-token", "", "Token printed after the previous page.");
  int exit_code = 0;
  if (!ParseClientFlags(parser, args, "usage: paymento-bridge list [flags]",
                        &exit_code)) {
    return exit_code;
  }
  v1::ListEventsRequest request;
  for (const std::string& type : SplitTypes(parser.Get("types"))) {
    request.add_event_types(type);
  }
  request.set_customer_email(parser.Get("email"));
  request.set_payment_link_id(parser.Get("payment-link"));
  request.set_page_token(parser.Get("page-token"));
  int page_size = 0;
  if (!absl::SimpleAtoi(parser.Get("page-size"), &page_size)) {
    std::cerr << "invalid --page-size \"" << parser.Get("page-size")
              << "\": use a number from 1 to 1000\n";
    return 2;
  }
  request.set_page_size(page_size);

  std::optional<GrpcClient> client = Connect(parser);
  if (!client.has_value()) return 2;
  grpc::ClientContext context;
  client->Authorize(context);
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(30));
  v1::ListEventsResponse response;
  grpc::Status rpc = client->stub->ListEvents(&context, request, &response);
  if (!rpc.ok()) return ReportRpcError("ListEvents", rpc, client->address);
  for (const v1::Event& event : response.events()) {
    std::cout << ToJsonLine(event) << "\n";
  }
  if (!response.next_page_token().empty()) {
    std::cerr << "next page: --page-token " << response.next_page_token()
              << "\n";
  }
  return 0;
}

}  // namespace paymento::bridge
