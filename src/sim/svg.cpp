// SVG line charts of a comparison: hand-written, dependency-free, deterministic text.
#include <algorithm>
#include <cmath>
#include <functional>

#include <fmt/format.h>

#include "sim/report.h"
#include "sim/trace.h"

namespace tug::sim {
namespace {

constexpr double kWidth = 900;
constexpr double kHeight = 380;
constexpr double kLeft = 64;
constexpr double kRight = 200;  // room for the legend
constexpr double kTop = 36;
constexpr double kBottom = 44;
constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c",
                                   "#9467bd", "#ff7f0e", "#8c564b"};
// Points are the maximum over buckets of this many seconds (spikes stay visible).
constexpr int64_t kBucketSeconds = 300;

std::string Escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

/// A "nice" axis maximum and step (1, 2 or 5 × 10^k) for about 5 ticks.
std::pair<double, double> NiceAxis(double max) {
  if (!(max > 0)) return {1, 1};
  double raw = max / 5;
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  }
  return {std::ceil(max / step) * step, step};
}

struct Line {
  std::string label;
  std::string color;
  bool dashed = false;
  std::vector<std::pair<double, double>> points;  // hours, value
};

std::vector<std::pair<double, double>> Bucketed(const std::vector<Sample>& series,
                                                const std::function<double(const Sample&)>& f) {
  std::vector<std::pair<double, double>> out;
  int64_t bucket = -1;
  for (const Sample& s : series) {
    int64_t b = s.at / kMicrosPerSecond / kBucketSeconds;
    double v = f(s);
    if (b != bucket) {
      out.emplace_back(static_cast<double>(b * kBucketSeconds) / 3600.0, v);
      bucket = b;
    } else {
      out.back().second = std::max(out.back().second, v);
    }
  }
  return out;
}

std::string Render(const std::string& title, const std::string& y_label,
                   const std::vector<Line>& lines) {
  double max_x = 24;
  double max_y = 0;
  for (const Line& l : lines) {
    for (const auto& [x, y] : l.points) {
      max_x = std::max(max_x, x);
      max_y = std::max(max_y, y);
    }
  }
  max_x = std::ceil(max_x / 6) * 6;
  std::pair<double, double> axis = NiceAxis(max_y);
  double top_y = axis.first;
  double step_y = axis.second;
  double pw = kWidth - kLeft - kRight;
  double ph = kHeight - kTop - kBottom;
  auto px = [&](double x) { return kLeft + x / max_x * pw; };
  auto py = [&](double y) { return kTop + ph - y / top_y * ph; };
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n"
      "<text x=\"{2}\" y=\"22\" font-size=\"15\" font-weight=\"bold\">{3}</text>\n",
      kWidth, kHeight, kLeft, Escape(title));
  // Grid and axes.
  for (double y = 0; y <= top_y + step_y / 2; y += step_y) {
    s += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>\n"
        "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{:g}</text>\n",
        kLeft, py(y), kLeft + pw, py(y), kLeft - 6, py(y) + 4, y);
  }
  for (double x = 0; x <= max_x + 0.01; x += 3) {
    s += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#eee\"/>\n"
        "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{:02.0f}:00</text>\n",
        px(x), kTop, px(x), kTop + ph, px(x), kTop + ph + 16, std::fmod(x, 24.0));
  }
  s += fmt::format(
      "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"none\" "
      "stroke=\"#888\"/>\n"
      "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">hour of the simulated day</text>\n"
      "<text transform=\"translate(16 {:.1f}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
      kLeft, kTop, pw, ph, kLeft + pw / 2, kHeight - 8, kTop + ph / 2, Escape(y_label));
  // Lines and legend.
  double ly = kTop + 8;
  for (const Line& l : lines) {
    std::string pts;
    for (const auto& [x, y] : l.points) pts += fmt::format("{:.1f},{:.1f} ", px(x), py(y));
    if (!pts.empty()) pts.pop_back();
    std::string dash = l.dashed ? " stroke-dasharray=\"5 3\"" : "";
    s += fmt::format(
        "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.6\"{} points=\"{}\"/>\n", l.color,
        dash, pts);
    s += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" "
        "stroke-width=\"2\"{}/>\n<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n",
        kLeft + pw + 12, ly, kLeft + pw + 36, ly, l.color, dash, kLeft + pw + 42, ly + 4,
        Escape(l.label));
    ly += 20;
  }
  s += "</svg>\n";
  return s;
}

}  // namespace

std::string ChartSvg(const Comparison& c, const std::string& which) {
  std::vector<Line> lines;
  for (size_t i = 0; i < c.results.size(); ++i) {
    const PolicyResult& r = c.results[i];
    std::string color = kColors[i % std::size(kColors)];
    if (which == "nodes") {
      lines.push_back(
          {r.policy.label + " all", color, false, Bucketed(r.series, [](const Sample& s) {
             return static_cast<double>(s.on_demand + s.spot + s.provisioning);
           })});
      bool any_spot =
          std::any_of(r.series.begin(), r.series.end(), [](const Sample& s) { return s.spot > 0; });
      if (any_spot) {
        lines.push_back(
            {r.policy.label + " spot", color, true,
             Bucketed(r.series, [](const Sample& s) { return static_cast<double>(s.spot); })});
      }
    } else {
      lines.push_back({r.policy.label, color, false, Bucketed(r.series, [](const Sample& s) {
                         return static_cast<double>(s.pending_pods);
                       })});
    }
  }
  if (which == "nodes") {
    return Render("Nodes over the day (ready + provisioning; max per 5 min)", "nodes", lines);
  }
  return Render("Pending pods over the day (max per 5 min)", "pending pods", lines);
}

Status WriteCharts(const Comparison& c, const std::string& dir) {
  for (const char* which : {"nodes", "pending"}) {
    RETURN_IF_ERROR(WriteFile(dir + "/" + which + ".svg", ChartSvg(c, which)));
  }
  return OkStatus();
}

}  // namespace tug::sim
