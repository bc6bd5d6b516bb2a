// The API parity manifest (tests/parity/manifest.json): every name it lists for C++ is a member
// function declared in that class of the public header, so the README's parity table never
// claims what the binding lacks. (C++ has no reflection: the header's text is what users get.)
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>

namespace {

std::string read(const char* path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// The body of `class Name {` ... up to the first line that is `};`.
std::string class_body(const std::string& header, const std::string& cls) {
    auto start = header.find("\nclass " + cls + " {");
    if (start == std::string::npos) return "";
    auto end = header.find("\n};", start);
    return header.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

bool declares(const std::string& header, const std::string& name) {
    auto sep = name.find("::");
    if (sep == std::string::npos) return false;
    std::string body = class_body(header, name.substr(0, sep));
    std::regex member("[\\s*&>]" + name.substr(sep + 2) + "\\(");
    return std::regex_search(body, member);
}

}  // namespace

TEST(Parity, EveryNameTheManifestListsIsDeclared) {
    std::string header = read(ODRADEK_HEADER);
    ASSERT_FALSE(header.empty()) << ODRADEK_HEADER;
    ASSERT_FALSE(declares(header, "Consumer::teleport"));
    auto manifest = nlohmann::json::parse(read(ODRADEK_PARITY_MANIFEST));
    int checked = 0;
    for (const auto& c : manifest.at("capabilities")) {
        if (!c.at("cpp").is_array()) continue;  // {"missing": ...}: a gap the table names
        for (const auto& n : c.at("cpp")) {
            ++checked;
            EXPECT_TRUE(declares(header, n.get<std::string>()))
                << c.at("name").get<std::string>() << ": the manifest lists " << n << ", which odradek.hpp lacks";
        }
    }
    EXPECT_GT(checked, 0);
}
