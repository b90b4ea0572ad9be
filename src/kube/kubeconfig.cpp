// Kubeconfig files and in-cluster service-account credentials → ClusterConfig.
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include "kube/client.h"
#include "kube/util.h"

namespace tug::kube {
namespace {

// One kubeconfig being read: its name for messages and the directory relative paths start from.
class Reader {
 public:
  Reader(std::string source, std::string base_dir)
      : source_(std::move(source)), base_dir_(std::move(base_dir)) {}

  Error Bad(std::string_view what) const {
    return InvalidArgument(fmt::format("{}: {}", source_, what));
  }

  // A string field; absent or null → "". `where` names the entry for messages.
  Result<std::string> String(const YAML::Node& node, const char* key,
                             const std::string& where) const {
    YAML::Node v = node[key];
    if (!v.IsDefined() || v.IsNull()) return std::string();
    if (!v.IsScalar()) return Bad(fmt::format("{}: {} must be a string", where, key));
    return v.Scalar();
  }

  Result<bool> Bool(const YAML::Node& node, const char* key, const std::string& where) const {
    YAML::Node v = node[key];
    if (!v.IsDefined() || v.IsNull()) return false;
    bool out = false;
    if (!v.IsScalar() || !YAML::convert<bool>::decode(v, out)) {
      return Bad(fmt::format("{}: {} must be true or false", where, key));
    }
    return out;
  }

  std::string Resolve(const std::string& path) const {
    if (path.empty() || path.front() == '/' || base_dir_.empty()) return path;
    return (std::filesystem::path(base_dir_) / path).lexically_normal().string();
  }

  // `<key>-data` (base64) wins over `<key>` (a file); "" when neither is set.
  Result<std::string> Material(const YAML::Node& node, const std::string& key,
                               const std::string& where) const {
    ASSIGN_OR_RETURN(std::string data, String(node, (key + "-data").c_str(), where));
    if (!data.empty()) {
      auto decoded = DecodeBase64(data);
      if (!decoded.ok()) {
        return Bad(fmt::format("{}: {}-data is {}", where, key, decoded.error().message()));
      }
      return std::move(decoded).value();
    }
    ASSIGN_OR_RETURN(std::string file, String(node, key.c_str(), where));
    if (file.empty()) return std::string();
    auto text = ReadFileText(Resolve(file));
    if (!text.ok()) {
      return Error(text.error().code(),
                   fmt::format("{}: {}: {}", source_, where + " " + key, text.error().message()));
    }
    return std::move(text).value();
  }

  // The `inner` map of the entry named `name` in the list `root[list]` ({name, <inner>: {...}}).
  Result<YAML::Node> Named(const YAML::Node& root, const char* list, const char* inner,
                           const std::string& name, const std::string& why) const {
    YAML::Node entries = root[list];
    std::vector<std::string> names;
    if (entries.IsDefined() && !entries.IsNull()) {
      if (!entries.IsSequence()) return Bad(fmt::format("{} must be a list", list));
      for (const auto& e : entries) {
        if (!e.IsMap()) return Bad(fmt::format("{} entries must be maps", list));
        ASSIGN_OR_RETURN(std::string n, String(e, "name", list));
        if (n == name) {
          YAML::Node body = e[inner];
          if (!body.IsDefined() || body.IsNull()) return YAML::Node(YAML::NodeType::Map);
          if (!body.IsMap()) {
            return Bad(fmt::format("{} '{}': {} must be a map", inner, name, inner));
          }
          return body;
        }
        names.push_back(n);
      }
    }
    return Bad(fmt::format("{} '{}'{} not found; {}: {}", inner, name, why, list,
                           names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
  }

  Result<ClusterConfig> Parse(const std::string& text, const std::string& context_name);

 private:
  std::string source_;
  std::string base_dir_;
};

Result<ClusterConfig> Reader::Parse(const std::string& text, const std::string& context_arg) {
  YAML::Node root = YAML::Load(text);
  if (!root.IsMap()) return Bad("not a kubeconfig (expected a map with clusters, users, contexts)");
  std::string context = context_arg;
  if (context.empty()) {
    ASSIGN_OR_RETURN(context, String(root, "current-context", "kubeconfig"));
  }
  if (context.empty()) {
    std::vector<std::string> names;
    if (root["contexts"].IsSequence()) {
      for (const auto& e : root["contexts"]) {
        if (e.IsMap() && e["name"].IsScalar()) names.push_back(e["name"].Scalar());
      }
    }
    return Bad(
        fmt::format("no current-context is set; pick a context ({})",
                    names.empty() ? "there are none" : fmt::format("{}", fmt::join(names, ", "))));
  }
  ASSIGN_OR_RETURN(YAML::Node ctx, Named(root, "contexts", "context", context, ""));
  std::string ctx_where = fmt::format("context '{}'", context);
  ASSIGN_OR_RETURN(std::string cluster_name, String(ctx, "cluster", ctx_where));
  ASSIGN_OR_RETURN(std::string user_name, String(ctx, "user", ctx_where));
  if (cluster_name.empty()) return Bad(ctx_where + ": cluster is not set");

  ClusterConfig out;
  ASSIGN_OR_RETURN(out.namespace_, String(ctx, "namespace", ctx_where));
  if (out.namespace_.empty()) out.namespace_ = "default";

  ASSIGN_OR_RETURN(YAML::Node cluster, Named(root, "clusters", "cluster", cluster_name,
                                             fmt::format(" (used by context '{}')", context)));
  std::string cl_where = fmt::format("cluster '{}'", cluster_name);
  ASSIGN_OR_RETURN(out.server, String(cluster, "server", cl_where));
  if (out.server.empty()) return Bad(cl_where + ": server is not set");
  ASSIGN_OR_RETURN(out.ca_pem, Material(cluster, "certificate-authority", cl_where));
  ASSIGN_OR_RETURN(out.insecure_skip_tls_verify,
                   Bool(cluster, "insecure-skip-tls-verify", cl_where));
  ASSIGN_OR_RETURN(out.tls_server_name, String(cluster, "tls-server-name", cl_where));

  if (user_name.empty()) return out;  // anonymous
  ASSIGN_OR_RETURN(YAML::Node user, Named(root, "users", "user", user_name,
                                          fmt::format(" (used by context '{}')", context)));
  std::string u_where = fmt::format("user '{}'", user_name);
  ASSIGN_OR_RETURN(out.token, String(user, "token", u_where));
  ASSIGN_OR_RETURN(std::string token_file, String(user, "tokenFile", u_where));
  out.token_file = Resolve(token_file);
  ASSIGN_OR_RETURN(out.client_cert_pem, Material(user, "client-certificate", u_where));
  ASSIGN_OR_RETURN(out.client_key_pem, Material(user, "client-key", u_where));
  if (out.client_cert_pem.empty() != out.client_key_pem.empty()) {
    return Bad(u_where + ": client-certificate and client-key go together; set both or neither");
  }
  YAML::Node exec = user["exec"];
  if (exec.IsDefined() && !exec.IsNull()) {
    std::string e_where = u_where + ": exec";
    if (!exec.IsMap()) return Bad(e_where + " must be a map");
    ClusterConfig::Exec e;
    ASSIGN_OR_RETURN(e.command, String(exec, "command", e_where));
    if (e.command.empty()) return Bad(e_where + ": command is not set");
    // Like client-go: a command with a path separator is relative to the kubeconfig; a bare
    // name is looked up in PATH.
    if (e.command.find('/') != std::string::npos) e.command = Resolve(e.command);
    ASSIGN_OR_RETURN(e.api_version, String(exec, "apiVersion", e_where));
    YAML::Node args = exec["args"];
    if (args.IsDefined() && !args.IsNull()) {
      if (!args.IsSequence()) return Bad(e_where + ": args must be a list of strings");
      for (const auto& a : args) {
        if (!a.IsScalar()) return Bad(e_where + ": args must be a list of strings");
        e.args.push_back(a.Scalar());
      }
    }
    YAML::Node env = exec["env"];
    if (env.IsDefined() && !env.IsNull()) {
      if (!env.IsSequence()) return Bad(e_where + ": env must be a list of {name, value}");
      for (const auto& item : env) {
        if (!item.IsMap()) return Bad(e_where + ": env must be a list of {name, value}");
        ASSIGN_OR_RETURN(std::string name, String(item, "name", e_where + ".env"));
        ASSIGN_OR_RETURN(std::string value, String(item, "value", e_where + ".env"));
        if (name.empty()) return Bad(e_where + ": env entries need a name");
        e.env[name] = value;
      }
    }
    out.exec = std::move(e);
  }
  YAML::Node provider = user["auth-provider"];
  if (provider.IsDefined() && !provider.IsNull() && !out.exec && out.token.empty() &&
      out.token_file.empty() && out.client_cert_pem.empty()) {
    return Bad(u_where + ": auth-provider is not supported; use an exec credential plugin");
  }
  YAML::Node username = user["username"];
  if (username.IsDefined() && !username.IsNull() && !out.exec && out.token.empty() &&
      out.token_file.empty() && out.client_cert_pem.empty()) {
    return Bad(u_where +
               ": basic auth (username/password) is not supported; use a token or a "
               "client certificate");
  }
  return out;
}

}  // namespace

Result<ClusterConfig> ParseKubeconfig(const std::string& yaml_text, const std::string& base_dir,
                                      const std::string& context, const std::string& source_name) {
  Reader reader(source_name, base_dir);
  try {
    return reader.Parse(yaml_text, context);
  } catch (const YAML::Exception& e) {
    // yaml-cpp reports syntax and conversion problems by throwing; keep them inside.
    return InvalidArgument(
        fmt::format("{}: not valid YAML at line {} ({})", source_name, e.mark.line + 1, e.msg));
  }
}

Result<ClusterConfig> LoadKubeconfig(const std::string& path, const std::string& context) {
  std::string source = "kubeconfig " + path;
  auto text = ReadFileText(path);
  if (!text.ok()) {
    return Error(text.error().code(),
                 fmt::format("{}: {}; set --kubeconfig or KUBECONFIG to an existing file", source,
                             text.error().message()));
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  return ParseKubeconfig(*text, dir, context, source);
}

Result<ClusterConfig> InClusterConfig(const std::string& sa_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || *host == '\0' || port == nullptr || *port == '\0') {
    return FailedPrecondition(
        "not running inside a Kubernetes pod (KUBERNETES_SERVICE_HOST and "
        "KUBERNETES_SERVICE_PORT are unset); give a kubeconfig instead");
  }
  ClusterConfig out;
  std::string h = host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";  // IPv6
  out.server = fmt::format("https://{}:{}", h, port);
  auto in_cluster = [](const Error& e) {
    return Error(
        Code::kFailedPrecondition,
        fmt::format("in-cluster config: {}; is a service account token mounted?", e.message()));
  };
  auto ca = ReadFileText(sa_dir + "/ca.crt");
  if (!ca.ok()) return in_cluster(ca.error());
  out.ca_pem = std::move(ca).value();
  out.token_file = sa_dir + "/token";
  auto token = ReadFileText(out.token_file);
  if (!token.ok()) return in_cluster(token.error());
  auto ns = ReadFileText(sa_dir + "/namespace");
  out.namespace_ = ns.ok() ? Trim(*ns) : "";
  if (out.namespace_.empty()) out.namespace_ = "default";
  return out;
}

}  // namespace tug::kube
