// The layer order: written once, as the moet_layer(...) calls of CMakeLists.txt (each layer
// links the layers it may use), and checked here against every #include under src/ and against
// the layer table of docs/design.md.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "repo_files.h"

namespace moet::testing {
namespace {

using Layers = std::map<std::string, std::vector<std::string>>;  // layer -> layers it links

std::vector<std::string> moet_targets(const std::string& args) {
  std::vector<std::string> out;
  for (const std::string& t : matches(args, std::regex(R"(\bmoet_(\w+))"))) out.push_back(t);
  return out;
}

// moet_layer(name deps...) gives a library layer; the executable `moet`, built from one folder's
// sources, is the top layer and links what target_link_libraries(moet ...) names.
Layers cmake_layers(std::string* error) {
  const std::string cmake = read_repo_file("CMakeLists.txt");
  Layers layers;
  const std::regex layer_call(R"(\bmoet_layer\(\s*(\w+)([^)]*)\))");
  for (auto it = std::sregex_iterator(cmake.begin(), cmake.end(), layer_call);
       it != std::sregex_iterator(); ++it)
    layers[(*it)[1].str()] = moet_targets((*it)[2].str());
  std::smatch exe, links;
  if (!std::regex_search(cmake, exe, std::regex(R"(add_executable\(moet \$\{(\w+)_srcs\}\))")) ||
      !std::regex_search(cmake, links,
                         std::regex(R"(target_link_libraries\(moet PRIVATE ([^)]*)\))"))) {
    *error = "CMakeLists.txt: no add_executable(moet ${<layer>_srcs}) with its "
             "target_link_libraries(moet PRIVATE ...)";
    return {};
  }
  layers[exe[1].str()] = moet_targets(links[1].str());
  return layers;
}

// The layers `layer` may include: itself and everything it links, directly or not.
std::set<std::string> reachable(const Layers& layers, const std::string& layer) {
  std::set<std::string> seen{layer};
  std::vector<std::string> todo{layer};
  while (!todo.empty()) {
    const std::string next = todo.back();
    todo.pop_back();
    const auto it = layers.find(next);
    if (it == layers.end()) continue;
    for (const std::string& dep : it->second)
      if (seen.insert(dep).second) todo.push_back(dep);
  }
  return seen;
}

// "src/param/resolve.h:17 includes optim/config.h (param may use core, kernels, model, param)".
std::vector<std::string> include_violations(const Layers& layers) {
  std::vector<std::string> out;
  const std::regex include(R"(^\s*#\s*include\s*"([^"]+)\")");
  for (const std::string& file : repo_files()) {
    if (!file.starts_with("src/")) continue;
    const std::string layer = file.substr(4, file.find('/', 4) - 4);
    if (layers.count(layer) == 0) {
      out.push_back(file + ": folder src/" + layer + " is not a layer of CMakeLists.txt");
      continue;
    }
    const std::set<std::string> allowed = reachable(layers, layer);
    const std::vector<std::string> lines = lines_of(read_repo_file(file));
    for (size_t i = 0; i < lines.size(); ++i) {
      std::smatch m;
      if (!std::regex_search(lines[i], m, include)) continue;
      const std::string target = m[1].str();
      const std::string where = file + ":" + std::to_string(i + 1) + " includes " + target;
      if (target.find("..") != std::string::npos) {
        out.push_back(where + " (a relative path around the layer check)");
        continue;
      }
      const size_t slash = target.find('/');
      if (slash == std::string::npos) continue;  // a file of its own folder
      const std::string to = target.substr(0, slash);
      if (layers.count(to) && !allowed.count(to)) {
        std::string may;
        for (const std::string& a : allowed) may += (may.empty() ? "" : ", ") + a;
        out.push_back(where + " (" + layer + " may use " + may + ")");
      }
    }
  }
  return out;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += "  " + l + "\n";
  return out;
}

TEST(RepoLayers, CMakeDeclaresEveryLayerAndTheyFormAnOrder) {
  std::string error;
  const Layers layers = cmake_layers(&error);
  ASSERT_TRUE(error.empty()) << error;
  for (const char* expected :
       {"core", "kernels", "data", "model", "param", "optim", "train", "sweep", "analysis", "cli"})
    EXPECT_TRUE(layers.count(expected)) << "CMakeLists.txt declares no layer " << expected;
  for (const auto& [layer, deps] : layers) {
    for (const std::string& dep : deps) {
      EXPECT_TRUE(layers.count(dep)) << layer << " links moet_" << dep << ", not a layer";
      EXPECT_FALSE(reachable(layers, dep).count(layer))
          << layer << " and " << dep << " link each other (a cycle)";
    }
  }
  for (const auto& entry : std::filesystem::directory_iterator(repo_root() + "/src")) {
    const std::string folder = entry.path().filename().string();
    if (entry.is_directory()) {
      EXPECT_TRUE(layers.count(folder)) << "src/" << folder << " is not a layer of CMakeLists.txt";
    }
  }
}

TEST(RepoLayers, NoSourceFileIncludesALayerAboveItsOwn) {
  std::string error;
  const Layers layers = cmake_layers(&error);
  ASSERT_TRUE(error.empty()) << error;
  const std::vector<std::string> violations = include_violations(layers);
  EXPECT_TRUE(violations.empty()) << "includes against the layer order of CMakeLists.txt "
                                     "(moet_layer calls):\n"
                                  << joined(violations);
}

// docs/design.md §3 has one table row per layer, "| `name/` | links ... |", whose second cell
// lists the layers that layer links in CMakeLists.txt ("—" for none).
TEST(RepoLayers, DesignDocStatesTheOrderCMakeLinks) {
  std::string error;
  const Layers layers = cmake_layers(&error);
  ASSERT_TRUE(error.empty()) << error;
  const std::regex row(R"(^\| `(\w+)/` \| ([^|]*)\|)");
  Layers documented;
  std::vector<std::string> order;
  for (const std::string& line : lines_of(read_repo_file("docs/design.md"))) {
    std::smatch m;
    if (!std::regex_search(line, m, row)) continue;
    std::vector<std::string> deps = matches(m[2].str(), std::regex(R"(`(\w+)/?`)"));
    documented[m[1].str()] = deps;
    order.push_back(m[1].str());
  }
  ASSERT_FALSE(documented.empty()) << "docs/design.md: no layer table rows (| `name/` | ... |)";
  for (auto [layer, deps] : layers) {
    const auto it = documented.find(layer);
    if (it == documented.end()) {
      ADD_FAILURE() << "docs/design.md: no row for layer " << layer;
    } else {
      std::vector<std::string> doc_deps = it->second;
      std::sort(deps.begin(), deps.end());
      std::sort(doc_deps.begin(), doc_deps.end());
      EXPECT_EQ(doc_deps, deps) << "docs/design.md: layer " << layer
                                << " links something else in CMakeLists.txt";
    }
  }
  EXPECT_EQ(documented.size(), layers.size()) << "docs/design.md lists a layer CMake does not";
  // Rows go from the top layer down: nothing is listed above a layer that links it.
  for (size_t i = 0; i < order.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      EXPECT_FALSE(reachable(layers, order[i]).count(order[j]))
          << "docs/design.md lists " << order[j] << " above " << order[i] << ", which links it";
}

}  // namespace
}  // namespace moet::testing
