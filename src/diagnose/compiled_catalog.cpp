#include "diagnose/scanner.h"

#include <hs/hs.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <iterator>
#include <optional>

#include "diagnose/regex_literals.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace tug::diagnose {
namespace {

// Literals for every line the per-line logic must see besides catalog matches (ProcessLine):
// JVM headers and Python exception names end in these words, `most recent failure:` opens a
// wrapper block, `Traceback` / `File "...", line ` open tracebacks, `Lost task ` feeds rule 6,
// `Executor task launch worker` marks executor threads. `spark` (any case) only matters until a
// scan has seen it, so it is kept apart (kSparkMarker).
constexpr const char* kLineMarkers[] = {"Exception",
                                        "Error",
                                        "Throwable",
                                        "Failure",
                                        "most recent failure:",
                                        "Traceback (most recent",
                                        "\", line ",
                                        "Lost task ",
                                        "Executor task launch worker"};
constexpr const char* kSparkMarker = "spark";

std::string EscapeRegex(std::string_view literal) {
  std::string out;
  for (char c : literal) {
    if (std::strchr("\\^$.|?*+()[]{}", c) != nullptr) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// A looser copy of a catalog regex for the stream prefilter: the per-line scan matches the
// stripped line (a substring of the raw line), so anchors and word boundaries, which depend on
// where the stripped text starts, are dropped. Dropping a zero-width assertion only widens the
// language, so every line the per-line scan matches is still flagged.
std::string Loosen(std::string_view re) {
  std::string out;
  out.reserve(re.size());
  bool in_class = false;
  for (size_t i = 0; i < re.size(); ++i) {
    char c = re[i];
    if (c == '\\' && i + 1 < re.size()) {
      char n = re[i + 1];
      ++i;
      if (!in_class && (n == 'b' || n == 'B' || n == 'A' || n == 'z' || n == 'Z' || n == 'G')) {
        continue;
      }
      out.push_back(c);
      out.push_back(n);
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      out.push_back(c);
      continue;
    }
    if (c == '[') {
      in_class = true;
      out.push_back(c);
      // "[]...]" and "[^]...]": a leading ']' is a literal.
      if (i + 1 < re.size() && re[i + 1] == '^') out.push_back(re[++i]);
      if (i + 1 < re.size() && re[i + 1] == ']') out.push_back(re[++i]);
      continue;
    }
    if (c == '^' || c == '$') continue;
    out.push_back(c);
  }
  return out;
}

hs_database_t* CompileStreamDatabase(const Catalog& catalog, unsigned* spark_id) {
  std::vector<std::string> storage;
  std::vector<unsigned> flags;
  std::vector<unsigned> ids;
  for (size_t i = 0; i < catalog.patterns.size(); ++i) {
    storage.push_back(Loosen(catalog.patterns[i].regex));
    flags.push_back(0);
    ids.push_back(static_cast<unsigned>(i));
  }
  for (const char* p : kLineMarkers) {
    storage.push_back(EscapeRegex(p));
    flags.push_back(0);
    ids.push_back(static_cast<unsigned>(ids.size()));
  }
  storage.emplace_back(kSparkMarker);
  flags.push_back(HS_FLAG_CASELESS);
  ids.push_back(static_cast<unsigned>(ids.size()));
  *spark_id = ids.back();
  std::vector<const char*> exprs;
  for (const std::string& e : storage) exprs.push_back(e.c_str());
  // HS_FLAG_PREFILTER (a superset by construction) is the fallback for constructs stream mode
  // cannot compile exactly; without any database the scan stays on the per-line path.
  for (unsigned extra : {0u, static_cast<unsigned>(HS_FLAG_PREFILTER)}) {
    std::vector<unsigned> f = flags;
    for (size_t i = 0; i < catalog.patterns.size(); ++i) f[i] |= extra;
    hs_database_t* db = nullptr;
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(exprs.data(), f.data(), ids.data(), static_cast<unsigned>(exprs.size()),
                         HS_MODE_STREAM, nullptr, &db, &err) == HS_SUCCESS) {
      return db;
    }
    hs_free_compile_error(err);
  }
  return nullptr;
}

// Block-mode database of the loosened `patterns` (ids are catalog indexes), for the patterns
// the literal prefilter cannot find. Scanned over whole chunks, a superset of the lines the
// per-line scan matches is flagged (see Loosen). nullptr if it does not compile even as a
// prefilter; the caller then treats every line as flagged.
hs_database_t* CompileFallbackDatabase(const Catalog& catalog,
                                       const std::vector<size_t>& patterns) {
  std::vector<std::string> storage;
  std::vector<unsigned> ids;
  for (size_t i : patterns) {
    storage.push_back(Loosen(catalog.patterns[i].regex));
    ids.push_back(static_cast<unsigned>(i));
  }
  std::vector<const char*> exprs;
  exprs.reserve(storage.size());
  for (const std::string& e : storage) exprs.push_back(e.c_str());
  for (unsigned extra : {0u, static_cast<unsigned>(HS_FLAG_PREFILTER)}) {
    std::vector<unsigned> flags(exprs.size(), extra);
    hs_database_t* db = nullptr;
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(exprs.data(), flags.data(), ids.data(),
                         static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK, nullptr, &db,
                         &err) == HS_SUCCESS) {
      return db;
    }
    hs_free_compile_error(err);
  }
  return nullptr;
}

}  // namespace

Result<std::shared_ptr<const CompiledCatalog>> CompiledCatalog::Compile(Catalog catalog) {
  if (catalog.patterns.empty()) return InvalidArgument("catalog has no patterns");
  std::vector<const char*> exprs;
  std::vector<unsigned> flags;
  std::vector<unsigned> ids;
  for (size_t i = 0; i < catalog.patterns.size(); ++i) {
    exprs.push_back(catalog.patterns[i].regex.c_str());
    flags.push_back(HS_FLAG_SINGLEMATCH);
    ids.push_back(static_cast<unsigned>(i));
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(exprs.data(), flags.data(), ids.data(), static_cast<unsigned>(exprs.size()),
                       HS_MODE_BLOCK, nullptr, &db, &err) != HS_SUCCESS) {
    std::string why = err != nullptr && err->message != nullptr ? err->message : "unknown";
    int at = err != nullptr ? err->expression : -1;
    hs_free_compile_error(err);
    std::string where = at >= 0 && static_cast<size_t>(at) < catalog.patterns.size()
                            ? catalog.patterns[static_cast<size_t>(at)].origin + ": pattern '" +
                                  catalog.patterns[static_cast<size_t>(at)].id + "': "
                            : std::string();
    return InvalidArgument(where + "catalog does not compile: " + why);
  }
  std::shared_ptr<CompiledCatalog> out(new CompiledCatalog());
  out->db_ = db;
  // Required literals per pattern; the patterns without any go to the fallback database.
  std::vector<std::vector<RequiredLiteral>> required;
  for (size_t i = 0; i < catalog.patterns.size(); ++i) {
    std::optional<std::vector<RequiredLiteral>> lits = RequiredFactors(catalog.patterns[i].regex);
    if (lits) {
      required.push_back(std::move(*lits));
    } else {
      out->fallback_patterns_.push_back(i);
    }
  }
  std::vector<std::string> markers(std::begin(kLineMarkers), std::end(kLineMarkers));
  out->prefilter_ = LiteralPrefilter(required, markers, {});
  out->prefilter_spark_ = LiteralPrefilter(required, markers, {kSparkMarker});
  if (!out->fallback_patterns_.empty()) {
    // If even that fails (a loosened pattern matching the empty string), scans take the
    // per-line path: literal_path() is false.
    out->fallback_db_ = CompileFallbackDatabase(catalog, out->fallback_patterns_);
  }
  out->catalog_ = std::move(catalog);
  return std::shared_ptr<const CompiledCatalog>(std::move(out));
}

hs_database* CompiledCatalog::stream_database() const {
  std::call_once(stream_once_,
                 [this] { stream_db_ = CompileStreamDatabase(catalog_, &spark_id_); });
  return stream_db_;
}

CompiledCatalog::~CompiledCatalog() {
  hs_free_database(db_);
  hs_free_database(fallback_db_);
  hs_free_database(stream_db_);
}

}  // namespace tug::diagnose
