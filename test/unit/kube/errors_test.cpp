#include "yurt/kube/errors.hpp"

#include <gtest/gtest.h>

namespace yurt::kube {
namespace {

using nlohmann::json;

TEST(KubeErrors, CategoryAndFail) {
  const Error e = fail(Errc::Gone, "too old resource version: 5 (10)");
  EXPECT_EQ(e, make_error_code(Errc::Gone));
  EXPECT_EQ(e.code().category().name(), std::string("kube"));
  EXPECT_EQ(e.what(), "too old resource version: 5 (10): resource version expired (gone)");
  EXPECT_NE(make_error_code(Errc::AlreadyExists), make_error_code(Errc::Conflict));
}

TEST(KubeErrors, StatusBodyAsTheApiserverWritesIt) {
  EXPECT_EQ(
      status_body(expired("too old resource version: 48211 (48990)")),
      R"js({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)js"
      R"js("message":"too old resource version: 48211 (48990)","reason":"Expired","code":410})js");
  EXPECT_EQ(status_body(not_found({"", "pods"}, "foo")),
            R"js({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)js"
            R"js("message":"pods \"foo\" not found","reason":"NotFound",)js"
            R"js("details":{"name":"foo","kind":"pods"},"code":404})js");
  EXPECT_EQ(watch_error_event(expired("x")),
            R"js({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},)js"
            R"js("status":"Failure","message":"x","reason":"Expired","code":410}})js"
            "\n");
}

TEST(KubeErrors, BuildersUseUpstreamMessages) {
  struct {
    Status s;
    int code;
    const char* reason;
    const char* message;
  } cases[] = {
      {not_found({"coordination.k8s.io", "leases"}, "n1"), 404, "NotFound",
       "leases.coordination.k8s.io \"n1\" not found"},
      {already_exists({"", "nodes"}, "n1"), 409, "AlreadyExists", "nodes \"n1\" already exists"},
      {conflict({"", "nodes"}, "n1", "the object has been modified"), 409, "Conflict",
       "Operation cannot be fulfilled on nodes \"n1\": the object has been modified"},
      {forbidden({"", "pods"}, "p", "no"), 403, "Forbidden", "pods \"p\" is forbidden: no"},
      {forbidden({"", "pods"}, "", "no"), 403, "Forbidden", "pods is forbidden: no"},
      {forbidden({}, "", "no"), 403, "Forbidden", "forbidden: no"},
      {bad_request("bad"), 400, "BadRequest", "bad"},
      {invalid("ListOptions", "", "x"), 422, "Invalid", "ListOptions \"\" is invalid: x"},
      {method_not_supported("Pod", "delete"), 405, "MethodNotAllowed",
       "delete is not supported on resources of kind \"Pod\""},
      {service_unavailable("down"), 503, "ServiceUnavailable", "down"},
      {too_many_requests("slow down", 3), 429, "TooManyRequests", "slow down"},
      {internal_error("boom"), 500, "InternalError", "Internal error occurred: boom"},
      {not_found({"", "pods"}, "a\"b"), 404, "NotFound", "pods \"a\\\"b\" not found"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.message);
    EXPECT_EQ(c.s.code, c.code);
    EXPECT_EQ(c.s.reason, c.reason);
    EXPECT_EQ(c.s.message, c.message);
    EXPECT_EQ(c.s.status, "Failure");
    // Round trip through the wire form.
    auto back = parse_status(status_body(c.s));
    ASSERT_TRUE(back) << back.error().what();
    EXPECT_EQ(*back, c.s);
  }
  EXPECT_EQ(too_many_requests("x", 3).details->retry_after_seconds, std::optional<int>(3));
}

TEST(KubeErrors, ParseStatusErrors) {
  struct {
    const char* body;
    const char* message_part;
  } cases[] = {
      {"", "not valid JSON"},
      {"{", "not valid JSON"},
      {"[]", "expected a JSON object, got array"},
      {R"js({"kind":"Pod"})js", "kind is \"Pod\""},
      {R"js({"code":404})js", "kind is \"\""},
      {R"js({"kind":"Status","code":"404"})js", "Status.code: expected an integer, got string"},
      {R"js({"kind":"Status","code":1e3})js", "Status.code: expected an integer, got number"},
      {R"js({"kind":"Status","code":99999999999})js", "out of range"},
      {R"js({"kind":"Status","message":5})js", "Status.message: expected a string"},
      {R"js({"kind":"Status","details":[]})js", "Status.details: expected an object"},
      {R"js({"kind":"Status","details":{"causes":{}}})js", "causes: expected an array"},
      {R"js({"kind":"Status","details":{"causes":[1]}})js", "causes[]: expected an object"},
      {R"js({"kind":"Status","details":{"causes":[{"reason":1}]}})js", "causes[].reason"},
      {R"js({"kind":"Status","details":{"retryAfterSeconds":"1"}})js", "retryAfterSeconds"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body);
    auto s = parse_status(std::string_view(c.body));
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error(), make_error_code(Errc::Malformed));
    EXPECT_NE(s.error().message().find(c.message_part), std::string::npos) << s.error().message();
  }
}

TEST(KubeErrors, ParseStatusFull) {
  auto s = parse_status(std::string_view(R"js({"kind":"Status","apiVersion":"v1","metadata":{},
      "status":"Failure","message":"m","reason":"Invalid","code":422,
      "details":{"name":"n","group":"g","kind":"k","uid":"u","retryAfterSeconds":2,
                 "causes":[{"reason":"FieldValueInvalid","message":"bad","field":"spec.x"}]}})js"));
  ASSERT_TRUE(s) << s.error().what();
  EXPECT_EQ(s->code, 422);
  ASSERT_TRUE(s->details);
  EXPECT_EQ(s->details->uid, "u");
  ASSERT_EQ(s->details->causes.size(), 1U);
  EXPECT_EQ(s->details->causes[0].type, "FieldValueInvalid");
  EXPECT_EQ(s->details->causes[0].field, "spec.x");
  EXPECT_EQ(to_json(*s)["details"]["causes"][0]["reason"], "FieldValueInvalid");
}

TEST(KubeErrors, ErrcByReasonThenCode) {
  struct {
    const char* reason;
    int code;
    Errc errc;
  } cases[] = {
      {"NotFound", 404, Errc::NotFound},
      {"AlreadyExists", 409, Errc::AlreadyExists},
      {"Conflict", 409, Errc::Conflict},
      {"Expired", 410, Errc::Gone},
      {"Gone", 410, Errc::Gone},
      {"Invalid", 422, Errc::Invalid},
      {"", 409, Errc::Conflict},
      {"", 410, Errc::Gone},
      {"", 404, Errc::NotFound},
      {"SomethingNew", 503, Errc::ServiceUnavailable},
      {"ServerTimeout", 500, Errc::ServerTimeout},
      {"InternalError", 500, Errc::Internal},
      {"Timeout", 504, Errc::Timeout},
      {"", 418, Errc::Unknown},
      {"TooManyRequests", 429, Errc::TooManyRequests},
      {"Unauthorized", 401, Errc::Unauthorized},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.reason) + " " + std::to_string(c.code));
    EXPECT_EQ(errc_for(c.reason, c.code), c.errc);
  }
}

TEST(KubeErrors, ErrorFromResponse) {
  const Error gone = error_from_response(
      200, R"js({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)js"
           R"js("message":"too old resource version: 1 (2)","reason":"Expired","code":410})js");
  EXPECT_EQ(gone, make_error_code(Errc::Gone));
  EXPECT_EQ(gone.message(), "too old resource version: 1 (2)");

  // A Status without code takes the HTTP one.
  EXPECT_EQ(error_from_response(404, R"js({"kind":"Status","status":"Failure"})js"),
            make_error_code(Errc::NotFound));

  const Error plain = error_from_response(503, "upstream connect error\n");
  EXPECT_EQ(plain, make_error_code(Errc::ServiceUnavailable));
  EXPECT_EQ(plain.message(),
            "HTTP 503: the server is currently unable to handle the request (body: upstream "
            "connect error\\n)");
  EXPECT_EQ(error_from_response(502, ""), make_error_code(Errc::Unknown));
  const Error big = error_from_response(500, std::string(10000, 'x'));
  EXPECT_LT(big.message().size(), 400U);
}

TEST(KubeErrors, StatusFromError) {
  const Status gone = status_from_error(fail(Errc::Gone, "too old"));
  EXPECT_EQ(gone.code, 410);
  EXPECT_EQ(gone.reason, "Expired");
  EXPECT_EQ(gone.message, "too old");
  EXPECT_EQ(status_from_error(fail(Errc::Malformed, "x")).code, 400);
  EXPECT_EQ(status_from_error(fail(Errc::Conflict, "x")).reason, "Conflict");
  const Status foreign = status_from_error(Error(std::make_error_code(std::errc::io_error)));
  EXPECT_EQ(foreign.code, 500);
  EXPECT_EQ(foreign.reason, "InternalError");
  EXPECT_FALSE(foreign.message.empty());
  // Every code maps to an apiserver-valid pair.
  for (int i = static_cast<int>(Errc::BadRequest); i <= static_cast<int>(Errc::InvalidConfig);
       ++i) {
    const auto cr = code_reason(static_cast<Errc>(i));
    EXPECT_GE(cr.code, 400);
    EXPECT_FALSE(cr.reason.empty());
    EXPECT_FALSE(make_error_code(static_cast<Errc>(i)).message().empty());
  }
}

}  // namespace
}  // namespace yurt::kube
