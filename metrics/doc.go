// Package metrics is kezekbot's Prometheus instrumentation: one small API that the bot, the
// signing pages, the broadcaster and the HTTP server call, and the /metrics handler.
//
// Every metric is prefixed kezekbot_. The series, and what each is for:
//
//	kezekbot_updates_received_total{type}            counter   Telegram updates taken in (webhook or polling), by update type.
//	kezekbot_updates_handled_total{type}             counter   updates whose handling finished, with or without an error.
//	kezekbot_updates_failed_total{type}              counter   updates whose handling returned an error (a subset of handled).
//	kezekbot_update_handling_seconds{type}           histogram wall time from taking an update to finishing it; buckets are
//	                                                           fine-grained between 0.1 ms and 50 ms, where a healthy bot lives.
//	kezekbot_telegram_api_calls_total{method,result} counter   Bot API calls, by method and result ("ok", "429", "error", ...).
//	kezekbot_dialog_states_entered_total{state}      counter   dialog states entered (flows.StateName; the empty "new" state is "new").
//	kezekbot_signatures_total{result,reason}         counter   signatures checked on the signing pages: result "verified" or
//	                                                           "rejected", reason why a signature was rejected ("none" when verified).
//	kezekbot_revocations_total{result}               counter   referral revocations, by result.
//	kezekbot_broadcast_deliveries_total{state}       counter   broadcast message deliveries, by state ("sent", "blocked", "failed", ...).
//	kezekbot_queue_lag_seconds                       gauge     age of the oldest update or job still waiting to be handled.
//
// Update types are a fixed set (message, edited_message, callback_query, my_chat_member,
// other) so that a new Telegram update type cannot grow the series count; other labels are
// free strings from the callers, capped at maxSeries distinct values per metric, past which
// the value is recorded as "other". Label values that are empty are recorded as "none", and
// invalid UTF-8 as "invalid", because Prometheus would otherwise panic or drop the label.
//
// The hot path (UpdateReceived, UpdateHandled, APICall, StateEntered) does one lock-free map
// lookup per call and never allocates once a label value has been seen: the label children
// are resolved once with WithLabelValues and kept in copy-on-write maps.
//
// A nil *Metrics is valid and records nothing, so tests and tools may pass nil.
package metrics
