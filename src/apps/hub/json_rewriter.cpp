#include "src/apps/hub/json_rewriter.hpp"

#include <utility>

#include <nlohmann/json.hpp>

namespace yurt::hub {

JsonRewriter::JsonRewriter(Mode mode, Transform transform, std::size_t max_object)
    : mode_(mode), transform_(std::move(transform)), max_object_(max_object) {}

void JsonRewriter::complete_object(std::string& out) {
  collecting_ = false;
  if (oversized_) {
    oversized_ = false;
    return;  // already passed through
  }
  ++seen_;
  if (auto replacement = transform_(object_)) {
    ++rewritten_;
    out += *replacement;
  } else {
    out += object_;
  }
  object_.clear();
}

std::string JsonRewriter::feed(std::string_view piece) {
  std::string out;
  for (std::size_t i = 0; i < piece.size(); ++i) {
    if (broken_) {
      out.append(piece.substr(i));
      break;
    }
    const char c = piece[i];
    bool object_ended = false;
    if (in_string_) {
      if (escaped_) {
        escaped_ = false;
      } else if (c == '\\') {
        escaped_ = true;
      } else if (c == '"') {
        in_string_ = false;
        if (capturing_key_) {
          capturing_key_ = false;
          last_key_ = key_;
        }
      } else if (capturing_key_ && key_.size() < 16) {
        key_ += c;
      }
    } else if (c == '{' || c == '[') {
      const bool at_object_position = mode_ == Mode::TopLevel
                                          ? stack_.empty()
                                          : (items_depth_ != 0 && stack_.size() == items_depth_);
      if (!collecting_ && c == '{' && at_object_position) {
        collecting_ = true;
        object_depth_ = stack_.size();
      }
      if (stack_.size() >= kMaxDepth) {
        // Nesting this deep is no Kubernetes object: stop interpreting, hand everything on.
        broken_ = true;
        out += object_;
        object_.clear();
        collecting_ = false;
        out.append(piece.substr(i));
        break;
      }
      if (mode_ == Mode::ListItems && c == '[' && stack_.size() == 1 && stack_.back() == '{' &&
          last_key_ == "items") {
        items_depth_ = 2;
      }
      stack_.push_back(c);
      if (stack_.size() == 1 && c == '{') {
        expect_key_ = true;
      }
    } else if (c == '}' || c == ']') {
      if (!stack_.empty()) {
        stack_.pop_back();
      }
      if (items_depth_ != 0 && stack_.size() < items_depth_) {
        items_depth_ = 0;
      }
      object_ended = collecting_ && stack_.size() == object_depth_;
    } else if (c == '"') {
      in_string_ = true;
      if (stack_.size() == 1 && stack_.back() == '{' && expect_key_) {
        capturing_key_ = true;
        key_.clear();
      }
    } else if (c == ':' && stack_.size() == 1) {
      expect_key_ = false;
    } else if (c == ',' && stack_.size() == 1 && stack_.back() == '{') {
      expect_key_ = true;
    }

    if (collecting_ && !oversized_) {
      object_ += c;
      if (object_.size() > max_object_) {
        out += object_;
        object_.clear();
        oversized_ = true;
      }
    } else {
      out += c;
    }
    if (object_ended) {
      complete_object(out);
    }
  }
  return out;
}

std::string JsonRewriter::finish() {
  std::string out = std::move(object_);
  object_.clear();
  collecting_ = false;
  return out;
}

std::optional<std::string> rewrite_master_service(std::string_view object,
                                                  std::string_view host,
                                                  int port) {
  // Almost every object is not the one: skip them without parsing.
  if (object.find("\"kubernetes\"") == std::string_view::npos) {
    return std::nullopt;
  }
  auto doc = nlohmann::ordered_json::parse(object, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) {
    return std::nullopt;
  }
  nlohmann::ordered_json* service = &doc;
  if (auto it = doc.find("object"); it != doc.end() && doc.contains("type")) {
    service = &*it;  // a watch event
  }
  if (!service->is_object()) {
    return std::nullopt;
  }
  if (auto kind = service->find("kind"); kind != service->end() && *kind != "Service") {
    return std::nullopt;
  }
  auto meta = service->find("metadata");
  auto spec = service->find("spec");
  if (meta == service->end() || !meta->is_object() || spec == service->end() ||
      !spec->is_object()) {
    return std::nullopt;
  }
  if (meta->value("name", "") != "kubernetes" || meta->value("namespace", "") != "default") {
    return std::nullopt;
  }
  (*spec)["clusterIP"] = host;
  (*spec)["clusterIPs"] = nlohmann::ordered_json::array({host});
  if (auto ports = spec->find("ports");
      ports != spec->end() && ports->is_array() && !ports->empty()) {
    nlohmann::ordered_json* target = nullptr;
    for (auto& p : *ports) {
      if (p.is_object() && p.value("name", "") == "https") {
        target = &p;
        break;
      }
    }
    if (target == nullptr && ports->front().is_object()) {
      target = &ports->front();  // kubeadm names it "https"; anything else: its first port
    }
    if (target != nullptr) {
      (*target)["port"] = port;
    }
  }
  return doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace yurt::hub
