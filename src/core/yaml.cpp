#include "core/yaml.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/utf8.h"

namespace tug {
namespace {

constexpr size_t kMaxDepth = 64;
// Nodes a text may build beyond two per byte (which no text without aliases reaches): what
// aliases may copy.
constexpr size_t kAliasNodes = 100'000;

boost::json::value Scalar(const std::string& tag, const std::string& s) {
  if (tag != "?") return boost::json::string(s);  // quoted or explicitly tagged
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  {
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (errno == 0 && end != s.c_str() && *end == '\0') return static_cast<int64_t>(v);
  }
  {
    bool numeric = s.find_first_not_of("0123456789.eE+-") == std::string::npos &&
                   s.find_first_of("0123456789") != std::string::npos;
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (numeric && end != s.c_str() && *end == '\0') return d;
  }
  return boost::json::string(s);
}

std::string Where(const YAML::Mark& mark) {
  if (mark.is_null()) return "YAML";
  return fmt::format("YAML line {}, column {}", mark.line + 1, mark.column + 1);
}

// Builds JSON straight from the parser's events rather than through YAML::LoadAll and a Node
// tree. A Node tree shares aliased nodes, so converting `a: &a [x, x]`, `b: &b [*a, *a]`, ...
// (or a node that contains itself) copies exponentially; here every alias copy is paid from a
// node budget, a node cannot alias its own ancestors, and nesting stops at kMaxDepth.
class JsonBuilder final : public YAML::EventHandler {
 public:
  explicit JsonBuilder(size_t budget) : budget_(budget) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    start_ = mark;
    stack_.clear();
    anchors_.clear();
    root_.reset();
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (!Spend(1, mark)) return;
    Add(mark, nullptr, nullptr, anchor, 1);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (error_) return;
    if (anchor == 0 || anchor > anchors_.size() || !anchors_[anchor - 1].done) {
      return Fail(mark, "an alias refers to a node that contains it; write the value out");
    }
    const Anchor& a = anchors_[anchor - 1];
    if (!Spend(a.nodes, mark)) return;
    std::optional<std::string> key = a.key;
    Add(mark, a.value, key ? &*key : nullptr, 0, a.nodes);
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    if (!Spend(1, mark)) return;
    Add(mark, Scalar(tag, value), &value, anchor, 1);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(mark, boost::json::array(), anchor);
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(mark, boost::json::object(), anchor);
  }
  void OnMapEnd() override { Close(); }

  const std::optional<std::string>& error() const { return error_; }
  const YAML::Mark& start() const { return start_; }
  /// The document's value; nullopt for an empty document.
  std::optional<boost::json::value>& root() { return root_; }

 private:
  struct Frame {
    boost::json::value value;
    YAML::Mark mark;
    YAML::anchor_t anchor = 0;
    size_t nodes_before = 0;
    bool have_key = false;
    std::string key;
  };
  struct Anchor {
    boost::json::value value;
    std::optional<std::string> key;  // the raw text of a scalar, which may be a map key
    size_t nodes = 0;
    bool done = false;
  };

  void Fail(const YAML::Mark& mark, std::string_view what) {
    if (!error_) error_ = fmt::format("{}: {}", Where(mark), what);
  }

  bool Spend(size_t nodes, const YAML::Mark& mark) {
    if (error_) return false;
    if (nodes > budget_ - used_) {
      Fail(mark, "aliases expand to too many values; write them out or use fewer aliases");
      return false;
    }
    used_ += nodes;
    return true;
  }

  void Open(const YAML::Mark& mark, boost::json::value container, YAML::anchor_t anchor) {
    if (error_) return;
    if (stack_.size() >= kMaxDepth) {
      return Fail(mark, fmt::format("nested more than {} levels deep; flatten it", kMaxDepth));
    }
    if (anchor != 0) Reserve(anchor);  // aliases of it are refused until it is complete
    if (!Spend(1, mark)) return;
    Frame f;
    f.value = std::move(container);
    f.mark = mark;
    f.anchor = anchor;
    f.nodes_before = used_ - 1;
    stack_.push_back(std::move(f));
  }

  void Close() {
    if (error_ || stack_.empty()) return;
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    if (f.value.is_object() && f.have_key) {
      // A key without a value cannot come from the parser; keep the mapping's shape anyway.
      f.value.get_object()[f.key] = nullptr;
    }
    Add(f.mark, std::move(f.value), nullptr, f.anchor, used_ - f.nodes_before);
  }

  void Reserve(YAML::anchor_t anchor) {
    if (anchors_.size() < anchor) anchors_.resize(anchor);
    anchors_[anchor - 1].done = false;
  }

  // A complete node: remembered under its anchor, then put where it belongs.
  void Add(const YAML::Mark& mark, boost::json::value value, const std::string* key_text,
           YAML::anchor_t anchor, size_t nodes) {
    if (error_) return;
    if (anchor != 0) {
      // Keeping a copy costs what the node costs.
      if (!Spend(nodes, mark)) return;
      Reserve(anchor);
      Anchor& a = anchors_[anchor - 1];
      a.value = value;
      a.key = key_text != nullptr ? std::optional<std::string>(*key_text) : std::nullopt;
      a.nodes = nodes;
      a.done = true;
    }
    if (stack_.empty()) {
      root_ = std::move(value);
      return;
    }
    Frame& top = stack_.back();
    if (top.value.is_array()) {
      top.value.get_array().push_back(std::move(value));
      return;
    }
    if (!top.have_key) {
      if (key_text == nullptr || value.is_null()) {
        return Fail(mark, "map keys must be plain names");
      }
      top.key = *key_text;
      top.have_key = true;
      return;
    }
    top.value.get_object()[top.key] = std::move(value);
    top.have_key = false;
  }

  const size_t budget_;
  size_t used_ = 0;
  YAML::Mark start_;
  std::vector<Frame> stack_;
  std::vector<Anchor> anchors_;
  std::optional<boost::json::value> root_;
  std::optional<std::string> error_;
};

}  // namespace

Result<std::vector<boost::json::value>> YamlToJson(const std::string& text) {
  // yaml-cpp passes bytes through; what it returns becomes JSON, which must be UTF-8.
  if (size_t bad = InvalidUtf8At(text); bad != std::string::npos) {
    size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + bad, '\n'));
    return InvalidArgument(
        fmt::format("YAML line {}: byte 0x{:02X} is not valid UTF-8; save the text as UTF-8", line,
                    static_cast<unsigned char>(text[bad])));
  }
  std::vector<boost::json::value> out;
  std::istringstream in(text);
  JsonBuilder builder(2 * text.size() + kAliasNodes);
  std::optional<int> empty_at;
  try {
    YAML::Parser parser(in);
    while (parser.HandleNextDocument(builder)) {
      if (builder.error()) return InvalidArgument(*builder.error());
      if (builder.root() && !builder.root()->is_null()) {
        out.push_back(std::move(*builder.root()));
        empty_at.reset();
        continue;
      }
      // yaml-cpp 0.7 reports a token it cannot place (a stray ',' between documents) as an
      // empty document without consuming it, forever (jbeder/yaml-cpp#1040), so an empty
      // document that starts where the last one did is an error, not the next document.
      if (empty_at == builder.start().pos) {
        return InvalidArgument(fmt::format("{}: unexpected character; check the syntax there",
                                           Where(builder.start())));
      }
      empty_at = builder.start().pos;
    }
  } catch (const YAML::Exception& e) {
    // The builder may have refused the document first (too deep: the parser goes on to its own,
    // much deeper, limit); its reason is the one to give.
    if (builder.error()) return InvalidArgument(*builder.error());
    return InvalidArgument(fmt::format("{}: {}", Where(e.mark), e.msg));
  }
  return out;
}

}  // namespace tug
