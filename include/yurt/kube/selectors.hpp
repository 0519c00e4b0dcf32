#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "yurt/base/result.hpp"
#include "yurt/kube/errors.hpp"

namespace yurt::kube {

/// Operators of label and field selector requirements (apimachinery `selection.Operator`).
enum class SelectorOp {
  Equals,        ///< `a=b`
  DoubleEquals,  ///< `a==b`
  NotEquals,     ///< `a!=b`
  In,            ///< `a in (x,y)`
  NotIn,         ///< `a notin (x,y)`
  Exists,        ///< `a`
  DoesNotExist,  ///< `!a`
  GreaterThan,   ///< `a>5` (labels only; integer compare)
  LessThan,      ///< `a<5` (labels only; integer compare)
};

/// Validation as upstream's `validation.IsQualifiedName`: an optional DNS-1123 subdomain prefix
/// and '/', then a name of at most 63 characters `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
/// The error (Errc::Invalid) carries upstream's explanation.
[[nodiscard]] Result<void> validate_qualified_name(std::string_view key);
/// Upstream's `validation.IsValidLabelValue`: empty, or at most 63 characters of the same
/// alphabet as a qualified name's name part.
[[nodiscard]] Result<void> validate_label_value(std::string_view value);
/// Upstream's `validation.IsDNS1123Subdomain` (≤253 chars, lower-case labels joined by '.').
[[nodiscard]] bool is_dns1123_subdomain(std::string_view s) noexcept;

/// One requirement of a label selector. `values` are sorted and unique (upstream keeps a set).
struct LabelRequirement {
  std::string key;
  SelectorOp op = SelectorOp::Exists;
  std::vector<std::string> values;

  /// Upstream semantics: In/=/== need the key present with a listed value; NotIn/!= are true
  /// when the key is absent; Gt/Lt need the key present with an integer value.
  [[nodiscard]] bool matches(const nlohmann::json& labels) const;
  /// The canonical string form (`key in (a,b)`, `!key`, `key!=v`).
  [[nodiscard]] std::string to_string() const;
  friend bool operator==(const LabelRequirement&, const LabelRequirement&) = default;
};

/// A label selector: the AND of its requirements. Default-constructed it selects everything.
///
/// @par Thread Safety
/// A value type; const member functions may be called concurrently.
class LabelSelector {
 public:
  LabelSelector() = default;

  /// The selector that matches every object (the empty string).
  [[nodiscard]] static LabelSelector everything() { return {}; }
  /// The selector that matches no object (what a null `metav1.LabelSelector` means).
  [[nodiscard]] static LabelSelector nothing();

  /// Parses the string form (`a=b,c!=d,e in (x,y),f notin (z),g,!h,i>3`), with upstream's
  /// grammar and key/value validation. Errors are Errc::BadRequest with upstream-like messages
  /// ("unable to parse requirement: …", "found ',', expected: identifier after ','").
  [[nodiscard]] static Result<LabelSelector> parse(std::string_view selector);

  /// Builds from the structured `metav1.LabelSelector` JSON (`matchLabels`, `matchExpressions`
  /// with operators In/NotIn/Exists/DoesNotExist), as `metav1.LabelSelectorAsSelector`: null
  /// selects nothing, `{}` selects everything. Errors: Errc::Invalid (bad operator, key or value,
  /// values where none are allowed) or Errc::Malformed (wrong JSON types).
  [[nodiscard]] static Result<LabelSelector> from_json(const nlohmann::json& selector);

  /// Equality requirements for each entry (`SelectorFromSet`); validated.
  [[nodiscard]] static Result<LabelSelector> from_set(
      const std::map<std::string, std::string>& set);

  /// Whether an object with these labels (`metadata.labels`: an object of strings; null/absent
  /// is the empty set; non-string values are treated as absent) is selected.
  [[nodiscard]] bool matches(const nlohmann::json& labels) const;
  /// Convenience: matches(object["metadata"]["labels"]).
  [[nodiscard]] bool matches_object(const nlohmann::json& object) const;

  /// True when it selects everything (no requirements and not `nothing()`).
  [[nodiscard]] bool empty() const noexcept { return !nothing_ && requirements_.empty(); }
  [[nodiscard]] bool is_nothing() const noexcept { return nothing_; }
  /// Requirements sorted by key (stable), as upstream.
  [[nodiscard]] const std::vector<LabelRequirement>& requirements() const noexcept {
    return requirements_;
  }
  /// The value when the selector requires `key` to have exactly one value (=, == or single `in`).
  [[nodiscard]] std::optional<std::string> requires_exact_match(std::string_view key) const;
  /// Canonical string form (sorted by key); parse(to_string()) gives an equal selector.
  [[nodiscard]] std::string to_string() const;

  friend bool operator==(const LabelSelector&, const LabelSelector&) = default;

 private:
  std::vector<LabelRequirement> requirements_;
  bool nothing_ = false;
};

/// One term of a field selector: `field=value`, `field==value` (stored as Equals) or
/// `field!=value`. The value is unescaped.
struct FieldRequirement {
  std::string field;
  SelectorOp op = SelectorOp::Equals;  ///< Equals or NotEquals
  std::string value;
  friend bool operator==(const FieldRequirement&, const FieldRequirement&) = default;
};

/// The resource a field selector is evaluated against, as in a request path:
/// {"", "pods"}, {"events.k8s.io", "events"}.
struct ResourceRef {
  std::string_view group;
  std::string_view resource;
};

/// A field selector (`metadata.name=a,spec.clusterIP!=None`): the AND of its terms.
///
/// Values may contain `\,`, `\=` and `\\` escapes (upstream's `fields.EscapeValue`); an
/// unescaped ',' splits terms, an unescaped '=' in a value or an unknown escape is an error.
/// Field names are not trimmed or validated here; check_supported() applies the per-resource
/// rules of the apiserver.
///
/// Evaluation follows the apiserver's per-resource "selectable fields" (see docs/kube.md): a
/// field absent from the JSON object has its Go zero value ("" for strings; "false" for
/// `spec.hostNetwork` and `spec.unschedulable`; "0" for `status.replicas` and
/// `status.successful`), which is what the apiserver compares because Go omits zero values
/// from JSON. So `spec.clusterIP!=None` selects a Service without a clusterIP.
///
/// @par Thread Safety
/// A value type; const member functions may be called concurrently.
class FieldSelector {
 public:
  FieldSelector() = default;

  /// Parses the string form. Errors are Errc::BadRequest with upstream's wording
  /// ("invalid selector: 'a'; can't understand 'a'", "invalid field selector: invalid escape
  /// sequence: \x").
  [[nodiscard]] static Result<FieldSelector> parse(std::string_view selector);

  /// Whether `object` is selected. The resource is taken from the object's apiVersion/kind when
  /// present (Pod, Node, Event…); otherwise every field is a plain dotted JSON path.
  [[nodiscard]] bool matches(const nlohmann::json& object) const;
  /// Same, for an object of a known resource (objects inside a List carry no kind).
  [[nodiscard]] bool matches(const nlohmann::json& object, ResourceRef resource) const;

  /// Rejects (Errc::BadRequest, "field label not supported: x") a field the apiserver does not
  /// support for a built-in resource. Resources of non-built-in groups (CRDs, which may declare
  /// selectableFields) accept any field.
  [[nodiscard]] Result<void> check_supported(ResourceRef resource) const;

  [[nodiscard]] bool empty() const noexcept { return requirements_.empty(); }
  /// Terms sorted by their source text, as upstream.
  [[nodiscard]] const std::vector<FieldRequirement>& requirements() const noexcept {
    return requirements_;
  }
  /// The value when some term is `field=value` (upstream `RequiresExactMatch`).
  [[nodiscard]] std::optional<std::string> requires_exact_match(std::string_view field) const;
  /// Canonical string form, values escaped.
  [[nodiscard]] std::string to_string() const;

  friend bool operator==(const FieldSelector&, const FieldSelector&) = default;

 private:
  std::vector<FieldRequirement> requirements_;
};

/// The string the apiserver compares for field label `field` of `object` of `resource` (empty
/// resource → inferred from the object, else dotted JSON path). Scalars print as in Go
/// (`true`, `42`); objects, arrays and absent fields give the zero value described above.
[[nodiscard]] std::string field_value(const nlohmann::json& object,
                                      std::string_view field,
                                      ResourceRef resource = {});

/// The field labels the apiserver selects `resource` by (its per-resource selectable fields;
/// metadata.name and metadata.namespace for any other resource), in a fixed order. An index
/// keeps field_value(object, label, resource) for each.
[[nodiscard]] std::span<const std::string_view> selectable_fields(ResourceRef resource);

/// Escapes `\`, `,` and `=` for use as a field selector value (upstream `fields.EscapeValue`).
[[nodiscard]] std::string escape_field_value(std::string_view value);

}  // namespace yurt::kube
