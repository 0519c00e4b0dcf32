#include "yurt/kube/selectors.hpp"

#include <algorithm>

#include <gtest/gtest.h>

namespace yurt::kube {
namespace {

using nlohmann::json;

// ---- label selectors -------------------------------------------------------------------------

TEST(LabelSelector, ParsesAndPrintsCanonically) {
  struct {
    const char* in;
    const char* canonical;
  } cases[] = {
      {"", ""},
      {"x=a", "x=a"},
      {"x=a,y=b,z=c", "x=a,y=b,z=c"},
      {"z=c,x=a", "x=a,z=c"},  // sorted by key
      {"x==a", "x==a"},
      {"x!=a", "x!=a"},
      {"x=", "x="},
      {"x= ,y", "x=,y"},
      {"x in (b,a)", "x in (a,b)"},
      {"x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()"},
      {"x in (a,a)", "x in (a)"},
      {"  x  notin ( a , b )  ", "x notin (a,b)"},
      {"!x", "!x"},
      {"! x", "!x"},
      {"x>1", "x>1"},
      {"x<10", "x<10"},
      {"x in (in),notin", "notin,x in (in)"},  // keywords are values/keys where expected
      {"example.com/my-key=My_Value.1", "example.com/my-key=My_Value.1"},
      {"!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name",
       "!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    auto s = LabelSelector::parse(c.in);
    ASSERT_TRUE(s) << s.error().what();
    EXPECT_EQ(s->to_string(), c.canonical);
    auto again = LabelSelector::parse(s->to_string());
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, *s);
  }
}

TEST(LabelSelector, RejectsBadSelectorsWithAReason) {
  struct {
    const char* in;
    const char* message_part;
  } cases[] = {
      {"x=a||y=b", "label value \"a||y\""},
      {"x==a==b", "expected: ',' or 'end of string'"},
      {",", "expected: !, identifier, or 'end of string'"},
      {"x,", "identifier after ','"},
      {"x,,y", "identifier after ','"},
      {"x in a", "expected: '('"},
      {"x in (a", "expected: ',' or ')'"},
      {"x in (a b)", "expected: ',' or ')'"},
      {"x in (a,", "expected: ',', or identifier"},
      {"x in", "expected: '('"},
      {"x notin (a) y", "expected: ',' or 'end of string'"},
      {"x=a=b", "expected: ',' or 'end of string'"},
      {"!x=a", "found '=', expected: ',' or 'end of string'"},
      {"!", "expected: identifier"},
      {"=a", "expected: !, identifier"},
      {"x=(a)", "expected: identifier"},
      {"x>a", "must be an integer"},
      {"x<", "must be an integer"},
      {"x>=1", "expected: identifier"},
      {"x<-1", "label value \"-1\""},  // upstream validates Gt/Lt values as label values too
      {"-x=a", "name part must consist of alphanumeric"},
      {"x-=a", "name part must consist of alphanumeric"},
      {"a/b/c=d", "qualified name"},
      {"/x=a", "prefix part must be non-empty"},
      {"Example.com/x=a", "prefix part"},
      {"example.com/=a", "name part must be non-empty"},
      {"x=a b", "expected: ',' or 'end of string'"},
      {"x=-a", "label value \"-a\""},
      {"x=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
       "no more than 63 characters"},
      {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=x",
       "no more than 63 characters"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    auto s = LabelSelector::parse(c.in);
    ASSERT_FALSE(s) << s->to_string();
    EXPECT_EQ(s.error(), make_error_code(Errc::BadRequest));
    EXPECT_NE(s.error().message().find(c.message_part), std::string::npos) << s.error().message();
  }
}

TEST(LabelSelector, MatchesLikeUpstream) {
  const json labels = {{"foo", "bar"}, {"baz", "blah"}, {"n", "5"}, {"empty", ""}};
  struct {
    const char* selector;
    bool match;
  } cases[] = {
      {"", true},
      {"foo=bar", true},
      {"foo==bar", true},
      {"foo=blah", false},
      {"foo=bar,baz=blah", true},
      {"foo=bar,foobar=bar,baz=blah", false},
      {"foo!=blah", true},
      {"foo!=bar", false},
      {"missing!=x", true},  // != is true for an absent key
      {"foo in (bar,x)", true},
      {"foo in (x)", false},
      {"missing in (x)", false},
      {"foo notin (x)", true},
      {"foo notin (bar)", false},
      {"missing notin (x)", true},
      {"foo", true},
      {"missing", false},
      {"!missing", true},
      {"!foo", false},
      {"empty=", true},
      {"empty in ()", true},
      {"foo=", false},
      {"n>4", true},
      {"n>5", false},
      {"n<6", true},
      {"foo>1", false},  // not an integer label value
      {"missing<1", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.selector);
    auto s = LabelSelector::parse(c.selector);
    ASSERT_TRUE(s) << s.error().what();
    EXPECT_EQ(s->matches(labels), c.match);
  }
}

TEST(LabelSelector, OddLabelObjects) {
  auto s = LabelSelector::parse("!a,b!=c").value();
  EXPECT_TRUE(s.matches(json()));          // null = no labels
  EXPECT_TRUE(s.matches(json::array()));   // not an object = no labels
  EXPECT_TRUE(s.matches(json{{"a", 1}}));  // non-string value = absent
  EXPECT_FALSE(s.matches(json{{"a", "1"}}));
  const json pod = {{"metadata", {{"labels", {{"app", "web"}}}}}};
  EXPECT_TRUE(LabelSelector::parse("app=web").value().matches_object(pod));
  EXPECT_FALSE(LabelSelector::parse("app=db").value().matches_object(pod));
  EXPECT_TRUE(
      LabelSelector::parse("!app").value().matches_object(json{{"metadata", json::object()}}));
  EXPECT_TRUE(LabelSelector::parse("!app").value().matches_object(json("not an object")));
}

TEST(LabelSelector, RequiresExactMatch) {
  auto s = LabelSelector::parse("a=1,b in (2),c in (3,4),d!=5,e").value();
  EXPECT_EQ(s.requires_exact_match("a"), std::optional<std::string>("1"));
  EXPECT_EQ(s.requires_exact_match("b"), std::optional<std::string>("2"));
  EXPECT_EQ(s.requires_exact_match("c"), std::nullopt);
  EXPECT_EQ(s.requires_exact_match("d"), std::nullopt);
  EXPECT_EQ(s.requires_exact_match("e"), std::nullopt);
  EXPECT_EQ(s.requires_exact_match("z"), std::nullopt);
}

TEST(LabelSelector, FromStructuredJson) {
  auto s = LabelSelector::from_json(json::parse(R"({
    "matchLabels": {"app": "web"},
    "matchExpressions": [
      {"key": "tier", "operator": "In", "values": ["fe", "be"]},
      {"key": "canary", "operator": "DoesNotExist"},
      {"key": "zone", "operator": "NotIn", "values": ["z1"]},
      {"key": "env", "operator": "Exists"}
    ]})"));
  ASSERT_TRUE(s) << s.error().what();
  EXPECT_EQ(s->to_string(), "app=web,!canary,env,tier in (be,fe),zone notin (z1)");
  EXPECT_TRUE(s->matches(json{{"app", "web"}, {"tier", "fe"}, {"env", "prod"}}));
  EXPECT_FALSE(s->matches(json{{"app", "web"}, {"tier", "fe"}}));
  EXPECT_FALSE(s->matches(json{{"app", "web"}, {"tier", "fe"}, {"env", "p"}, {"canary", "1"}}));

  auto null_sel = LabelSelector::from_json(json());
  ASSERT_TRUE(null_sel);
  EXPECT_TRUE(null_sel->is_nothing());
  EXPECT_FALSE(null_sel->matches(json::object()));
  auto empty_sel = LabelSelector::from_json(json::object());
  ASSERT_TRUE(empty_sel);
  EXPECT_TRUE(empty_sel->empty());
  EXPECT_TRUE(empty_sel->matches(json{{"x", "y"}}));
}

TEST(LabelSelector, FromStructuredJsonErrors) {
  struct {
    const char* in;
    Errc code;
    const char* message_part;
  } cases[] = {
      {R"("app=web")", Errc::Malformed, "expected an object"},
      {R"({"matchLabels": ["a"]})", Errc::Malformed, "matchLabels: expected an object"},
      {R"({"matchLabels": {"a": 1}})", Errc::Malformed, "matchLabels.a: expected a string"},
      {R"({"matchLabels": {"a b": "c"}})", Errc::Invalid, "label key"},
      {R"({"matchLabels": {"a": "c d"}})", Errc::Invalid, "label value"},
      {R"({"matchExpressions": {}})", Errc::Malformed, "expected an array"},
      {R"({"matchExpressions": [1]})", Errc::Malformed, "matchExpressions[0]: expected an object"},
      {R"({"matchExpressions": [{"operator": "In"}]})", Errc::Malformed, "key: expected a string"},
      {R"({"matchExpressions": [{"key": "a"}]})", Errc::Malformed, "operator: expected a string"},
      {R"({"matchExpressions": [{"key": "a", "operator": "in", "values": ["x"]}]})", Errc::Invalid,
       "\"in\" is not a valid label selector operator"},
      {R"({"matchExpressions": [{"key": "a", "operator": "In"}]})", Errc::Invalid,
       "values set can't be empty"},
      {R"({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]})",
       Errc::Invalid, "values set must be empty"},
      {R"({"matchExpressions": [{"key": "a", "operator": "In", "values": [1]}]})", Errc::Malformed,
       "values[]: expected a string"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    auto s = LabelSelector::from_json(json::parse(c.in));
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error(), make_error_code(c.code));
    EXPECT_NE(s.error().message().find(c.message_part), std::string::npos) << s.error().message();
  }
}

TEST(LabelSelector, FromSet) {
  auto s = LabelSelector::from_set({{"b", "2"}, {"a", "1"}});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->to_string(), "a=1,b=2");
  EXPECT_FALSE(LabelSelector::from_set({{"a", "not valid"}}));
  EXPECT_TRUE(LabelSelector::from_set({})->empty());
}

TEST(Validation, QualifiedNamesAndValues) {
  for (const char* ok : {"a", "A", "a.b-c_d", "example.com/a", "a.b.c/X9", "node.openyurt.io/x"}) {
    EXPECT_TRUE(validate_qualified_name(ok)) << ok;
  }
  for (const char* bad : {"", "-a", "a-", "a/", "/a", "a//b", "A.com/x", "a_b.com/x", "a b"}) {
    EXPECT_FALSE(validate_qualified_name(bad)) << bad;
  }
  EXPECT_TRUE(validate_label_value(""));
  EXPECT_TRUE(validate_label_value("Ab-1_2.c"));
  EXPECT_FALSE(validate_label_value("a/b"));
  EXPECT_FALSE(validate_label_value("_a"));
  EXPECT_TRUE(is_dns1123_subdomain("kubernetes.io"));
  EXPECT_FALSE(is_dns1123_subdomain("kubernetes..io"));
  EXPECT_FALSE(is_dns1123_subdomain(std::string(254, 'a')));
  EXPECT_TRUE(is_dns1123_subdomain(std::string(63, 'a') + "." + std::string(63, 'b')));
}

// ---- field selectors -------------------------------------------------------------------------

TEST(SelectableFields, FollowTheApiserversTablePerResource) {
  const auto pods = selectable_fields({"", "pods"});
  EXPECT_NE(std::find(pods.begin(), pods.end(), "spec.nodeName"), pods.end());
  EXPECT_NE(std::find(pods.begin(), pods.end(), "status.phase"), pods.end());
  const auto nodes = selectable_fields({"", "nodes"});
  ASSERT_EQ(nodes.size(), 2U);  // cluster-scoped: no metadata.namespace
  EXPECT_EQ(nodes[0], "metadata.name");
  EXPECT_EQ(nodes[1], "spec.unschedulable");
  const auto jobs = selectable_fields({"batch", "jobs"});
  EXPECT_NE(std::find(jobs.begin(), jobs.end(), "status.successful"), jobs.end());
  // Anything else, built-in or not: name and namespace.
  for (const ResourceRef other :
       {ResourceRef{"", "configmaps"}, ResourceRef{"example.com", "widgets"}}) {
    const auto fields = selectable_fields(other);
    ASSERT_EQ(fields.size(), 2U);
    EXPECT_EQ(fields[0], "metadata.name");
    EXPECT_EQ(fields[1], "metadata.namespace");
  }
  // Every label is one check_supported() accepts for that resource.
  for (const auto label : pods) {
    auto selector = FieldSelector::parse(std::string(label) + "=x");
    ASSERT_TRUE(selector) << label;
    EXPECT_TRUE(selector->check_supported({"", "pods"})) << label;
  }
}

TEST(FieldSelector, Parses) {
  struct {
    const char* in;
    const char* canonical;
  } cases[] = {
      {"", ""},
      {"x=a,y=b,z=c", "x=a,y=b,z=c"},
      {"x!=a,y=b", "x!=a,y=b"},
      {"y=b,x=a", "x=a,y=b"},
      {"x==a", "x=a"},
      {"x=", "x="},
      {",x=a,", "x=a"},  // empty terms are skipped
      {"metadata.name=a\\,b\\=c\\\\d", "metadata.name=a\\,b\\=c\\\\d"},
      {"spec.clusterIP!=None", "spec.clusterIP!=None"},
      {"a b= c", "a b= c"},  // nothing is trimmed
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    auto s = FieldSelector::parse(c.in);
    ASSERT_TRUE(s) << s.error().what();
    EXPECT_EQ(s->to_string(), c.canonical);
    EXPECT_EQ(FieldSelector::parse(s->to_string()).value(), *s);
  }
  auto escaped = FieldSelector::parse("metadata.name=a\\,b\\=c\\\\d").value();
  ASSERT_EQ(escaped.requirements().size(), 1U);
  EXPECT_EQ(escaped.requirements()[0].value, "a,b=c\\d");
  EXPECT_EQ(escape_field_value("a,b=c\\d"), "a\\,b\\=c\\\\d");
}

TEST(FieldSelector, RejectsBadSelectors) {
  struct {
    const char* in;
    const char* message_part;
  } cases[] = {
      {"x=a||y=b", "unescaped character in value: ="},
      {"x==a==b", "unescaped character in value: ="},
      {"x", "can't understand 'x'"},
      {"x=a,y", "can't understand 'y'"},
      {"=a", "field name is empty"},
      {"x=a\\b", "invalid escape sequence: \\b"},
      {"x=a\\", "invalid escape sequence: \\"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    auto s = FieldSelector::parse(c.in);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error(), make_error_code(Errc::BadRequest));
    EXPECT_NE(s.error().message().find(c.message_part), std::string::npos) << s.error().message();
  }
}

TEST(FieldSelector, RequiresExactMatch) {
  auto s = FieldSelector::parse("metadata.name=a,spec.x!=b").value();
  EXPECT_EQ(s.requires_exact_match("metadata.name"), std::optional<std::string>("a"));
  EXPECT_EQ(s.requires_exact_match("spec.x"), std::nullopt);
  EXPECT_EQ(FieldSelector::parse("metadata.name=").value().requires_exact_match("metadata.name"),
            std::optional<std::string>(""));
}

const json kPod = json::parse(R"({
  "kind": "Pod", "apiVersion": "v1",
  "metadata": {"name": "web-0", "namespace": "default", "labels": {"app": "web"}},
  "spec": {"nodeName": "edge-1", "restartPolicy": "Always", "schedulerName": "default-scheduler",
           "serviceAccountName": "sa"},
  "status": {"phase": "Running", "podIP": "10.0.0.9", "podIPs": [{"ip": "10.0.0.9"}, {"ip": "fd00::9"}]}
})");

TEST(FieldSelector, MatchesPodsAsTheApiserver) {
  struct {
    const char* selector;
    bool match;
  } cases[] = {
      {"", true},
      {"spec.nodeName=edge-1", true},
      {"spec.nodeName=edge-2", false},
      {"spec.host=edge-1", true},  // legacy alias
      {"metadata.name=web-0,metadata.namespace=default", true},
      {"metadata.namespace!=default", false},
      {"status.phase!=Succeeded,status.phase!=Failed,status.phase!=Unknown", true},
      {"status.phase=Running", true},
      {"spec.hostNetwork=false", true},  // absent bool is "false"
      {"spec.hostNetwork=true", false},
      {"status.podIP=10.0.0.9", true},
      {"status.podIPs=", true},  // accepted upstream, never set
      {"status.nominatedNodeName=", true},
      {"spec.serviceAccountName=sa", true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.selector);
    auto s = FieldSelector::parse(c.selector).value();
    EXPECT_EQ(s.matches(kPod), c.match);
    json no_kind = kPod;
    no_kind.erase("kind");
    EXPECT_EQ(s.matches(no_kind, {"", "pods"}), c.match);
  }
  json host = kPod;
  host["spec"]["hostNetwork"] = true;
  EXPECT_TRUE(FieldSelector::parse("spec.hostNetwork=true").value().matches(host));
  json no_ips = kPod;
  no_ips["status"].erase("podIPs");
  EXPECT_TRUE(FieldSelector::parse("status.podIP=10.0.0.9").value().matches(no_ips));
}

TEST(FieldSelector, AbsentFieldsHaveGoZeroValues) {
  const json svc = json::parse(R"({"kind":"Service","apiVersion":"v1",
      "metadata":{"name":"ext","namespace":"ns"},"spec":{"type":"ExternalName"}})");
  EXPECT_TRUE(FieldSelector::parse("spec.clusterIP!=None").value().matches(svc));
  EXPECT_TRUE(FieldSelector::parse("spec.clusterIP=").value().matches(svc));
  json headless = svc;
  headless["spec"]["clusterIP"] = "None";
  EXPECT_FALSE(FieldSelector::parse("spec.clusterIP!=None").value().matches(headless));

  const json node = json::parse(R"({"kind":"Node","apiVersion":"v1","metadata":{"name":"n1"}})");
  EXPECT_TRUE(FieldSelector::parse("spec.unschedulable=false").value().matches(node));
  EXPECT_TRUE(FieldSelector::parse("metadata.name=n1").value().matches(node));
  EXPECT_TRUE(FieldSelector::parse("metadata.namespace=").value().matches(node));

  const json rs = json::parse(R"({"kind":"ReplicaSet","apiVersion":"apps/v1",
      "metadata":{"name":"r","namespace":"ns"},"status":{}})");
  EXPECT_TRUE(FieldSelector::parse("status.replicas=0").value().matches(rs));
  const json job = json::parse(R"({"kind":"Job","apiVersion":"batch/v1",
      "metadata":{"name":"j","namespace":"ns"},"status":{"succeeded":3}})");
  EXPECT_TRUE(FieldSelector::parse("status.successful=3").value().matches(job));
  EXPECT_TRUE(FieldSelector::parse("status.successful=0")
                  .value()
                  .matches(json::object(), {"batch", "jobs"}));
}

TEST(FieldSelector, Events) {
  const json core = json::parse(R"({"kind":"Event","apiVersion":"v1",
      "metadata":{"name":"e","namespace":"ns"},
      "involvedObject":{"kind":"Pod","name":"p","namespace":"ns","uid":"u1"},
      "reason":"Started","type":"Normal","reportingComponent":"kubelet"})");
  EXPECT_TRUE(FieldSelector::parse("involvedObject.kind=Pod,involvedObject.name=p,type=Normal")
                  .value()
                  .matches(core));
  // source falls back to the reporting component when source.component is empty.
  EXPECT_TRUE(FieldSelector::parse("source=kubelet").value().matches(core));
  json with_source = core;
  with_source["source"] = {{"component", "scheduler"}};
  EXPECT_TRUE(FieldSelector::parse("source=scheduler").value().matches(with_source));

  const json v1 = json::parse(R"({"kind":"Event","apiVersion":"events.k8s.io/v1",
      "metadata":{"name":"e","namespace":"ns"},
      "regarding":{"kind":"Node","name":"n1"},"reason":"R","reportingController":"ctl"})");
  EXPECT_TRUE(FieldSelector::parse("involvedObject.kind=Node,reportingComponent=ctl,source=ctl")
                  .value()
                  .matches(v1));
}

TEST(FieldSelector, GenericDottedPathsForOtherResources) {
  const json obj = json::parse(R"({"kind":"Widget","apiVersion":"example.com/v1",
      "metadata":{"name":"w"},"spec":{"color":"red","size":3,"on":true,"list":[1],"obj":{}}})");
  struct {
    const char* selector;
    bool match;
  } cases[] = {
      {"spec.color=red", true},   {"spec.size=3", true},     {"spec.on=true", true},
      {"spec.list=", true},       {"spec.obj=", true},       {"spec.missing=", true},
      {"spec.color!=red", false}, {"metadata.name=w", true}, {"spec.color.x=", true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.selector);
    EXPECT_EQ(FieldSelector::parse(c.selector).value().matches(obj), c.match);
  }
  EXPECT_EQ(field_value(json("scalar"), "a.b"), "");
  EXPECT_EQ(field_value(obj, "spec.size"), "3");
}

TEST(FieldSelector, SupportedFieldsPerResource) {
  struct {
    const char* selector;
    ResourceRef resource;
    bool supported;
  } cases[] = {
      {"spec.nodeName=n", {"", "pods"}, true},
      {"spec.host=n", {"", "pods"}, true},
      {"spec.nodeName=n", {"", "services"}, false},
      {"spec.clusterIP!=None", {"", "services"}, true},
      {"metadata.name=n", {"", "nodes"}, true},
      {"metadata.namespace=n", {"", "nodes"}, false},
      {"spec.unschedulable=true", {"", "nodes"}, true},
      {"metadata.name=x", {"", "configmaps"}, true},
      {"metadata.namespace=x", {"", "configmaps"}, true},
      {"data.x=y", {"", "configmaps"}, false},
      {"spec.holderIdentity=x", {"coordination.k8s.io", "leases"}, false},
      {"spec.signerName=x", {"certificates.k8s.io", "certificatesigningrequests"}, true},
      {"status.successful=1", {"batch", "jobs"}, true},
      {"status.replicas=1", {"apps", "replicasets"}, true},
      {"status.replicas=1", {"apps", "deployments"}, false},
      {"type=Opaque", {"", "secrets"}, true},
      {"involvedObject.uid=u", {"events.k8s.io", "events"}, true},
      {"spec.color=red", {"example.com", "widgets"}, true},  // CRDs: cannot know, accept
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.selector);
    auto r = FieldSelector::parse(c.selector).value().check_supported(c.resource);
    EXPECT_EQ(static_cast<bool>(r), c.supported);
    if (!r) {
      EXPECT_EQ(r.error(), make_error_code(Errc::BadRequest));
      EXPECT_NE(r.error().message().find("field label not supported"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace yurt::kube
