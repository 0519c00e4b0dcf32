// Finding a member and array elements without a DOM: the scan recording relies on to split a
// LIST into items (structure only; the pieces are parsed or compared by the caller).

#include "src/apps/hub/cache/json_scan.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace yurt::hub {
namespace {

std::string member(std::string_view text, std::string_view key) {
  auto span = find_member(text, key);
  return span ? std::string(span->of(text)) : std::string("<none>");
}

TEST(JsonScan, FindsAMemberPastNestedValuesAndTrickyStrings) {
  const std::string text =
      R"( { "a" : {"x":[1,{"y":"}]"}]}, "s":"quote \" brace { bracket ] backslash \\",)"
      R"( "n": -1.5e3 , "t":true, "items" : [ {"k":"v"} , 2 ] } )";
  EXPECT_EQ(member(text, "items"), R"([ {"k":"v"} , 2 ])");
  EXPECT_EQ(member(text, "n"), "-1.5e3");
  EXPECT_EQ(member(text, "t"), "true");
  EXPECT_EQ(member(text, "s"), R"("quote \" brace { bracket ] backslash \\")");
  EXPECT_EQ(member(text, "x"), "<none>") << "only top-level members";
  EXPECT_EQ(member(text, "missing"), "<none>");
}

TEST(JsonScan, RefusesWhatCouldHideOrDoubleAMember) {
  EXPECT_EQ(member(R"({"items":[],"items":[1]})", "items"), "<none>") << "twice";
  EXPECT_EQ(member(R"({"items":[],"\u0069tems":[1]})", "items"), "<none>") << "escaped key";
  EXPECT_EQ(member(R"([{"items":[]}])", "items"), "<none>") << "not an object";
  EXPECT_EQ(member(R"({"items":[1,2)", "items"), "<none>") << "cut short";
  EXPECT_EQ(member(R"({"items":[] "kind":"x"})", "items"), "<none>") << "no comma";
  EXPECT_EQ(member(R"({"items":"unterminated})", "items"), "<none>");
  EXPECT_EQ(member(R"({"items":})", "items"), "<none>") << "no value";
  EXPECT_EQ(member("", "items"), "<none>");
  EXPECT_EQ(member("{}", "items"), "<none>");
}

TEST(JsonScan, SplitsAnArrayIntoElements) {
  auto elements = array_elements(R"( [ {"a":"]"} ,[1,[2]], "s,t" ,null ] )");
  ASSERT_TRUE(elements);
  EXPECT_EQ(*elements,
            (std::vector<std::string_view>{R"({"a":"]"})", "[1,[2]]", R"("s,t")", "null"}));
  auto empty = array_elements(" [ ] ");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST(JsonScan, RefusesWhatIsNotOneArray) {
  for (std::string_view text :
       {"", "{}", "[", "[1,", "[1 2]", "[1,]x", "[1] [2]", "[,1]", R"(["a)", "[{]"}) {
    EXPECT_FALSE(array_elements(text)) << text;
  }
}

}  // namespace
}  // namespace yurt::hub
