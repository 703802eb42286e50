// Sample Payment Link webhook bodies, shaped like Paymento's own, for
// `send-test` and for tests.
#ifndef PAYMENTO_BRIDGE_SRC_CLI_SAMPLE_EVENT_H_
#define PAYMENTO_BRIDGE_SRC_CLI_SAMPLE_EVENT_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace paymento::bridge {

// The seven documented Payment Link event types.
const std::vector<std::string>& DocumentedEventTypes();

// Returns a realistic JSON body for an event of `type` with id `event_id`,
// created at `created_at`. Any type string is accepted.
std::string SampleWebhookBody(absl::string_view type,
                              absl::string_view event_id,
                              absl::Time created_at);

// Returns a new random event id such as "evt_test_3f9c2a1b7d4e5f60".
std::string NewTestEventId();

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_CLI_SAMPLE_EVENT_H_
