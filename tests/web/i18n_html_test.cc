// The console's language choice (web/include/mcn/web/i18n.h) and HTML escaping (html.h).
#include <gtest/gtest.h>

#include "mcn/web/html.h"
#include "mcn/web/i18n.h"

namespace mcn::web {
namespace {

TEST(WebLanguage, PersonsPreferenceWinsOverTheBrowser) {
  EXPECT_EQ(pickLanguage("zh", "en-US,en;q=0.9"), Lang::kZh);
  EXPECT_EQ(pickLanguage("zh-CN", "en"), Lang::kZh);
  EXPECT_EQ(pickLanguage("en", "zh-CN,zh;q=0.9"), Lang::kEn);
  EXPECT_EQ(pickLanguage(" EN-gb ", "zh"), Lang::kEn);
}

TEST(WebLanguage, AcceptLanguageWhenNoOrUnknownPreference) {
  EXPECT_EQ(pickLanguage("", "zh-CN,zh;q=0.9,en;q=0.8"), Lang::kZh);
  EXPECT_EQ(pickLanguage("fr", "zh-TW"), Lang::kZh);
  EXPECT_EQ(pickLanguage("", "en-US,en;q=0.9,zh;q=0.8"), Lang::kEn);
  // q-values decide, not the order.
  EXPECT_EQ(pickLanguage("", "en;q=0.5, zh;q=0.7"), Lang::kZh);
  // Languages we do not speak are skipped.
  EXPECT_EQ(pickLanguage("", "fr-FR,de;q=0.9,zh;q=0.2"), Lang::kZh);
  // q=0 means "not acceptable".
  EXPECT_EQ(pickLanguage("", "zh;q=0, fr"), Lang::kEn);
}

TEST(WebLanguage, EnglishWhenNothingUsable) {
  EXPECT_EQ(pickLanguage("", ""), Lang::kEn);
  EXPECT_EQ(pickLanguage("", "fr, de"), Lang::kEn);
  EXPECT_EQ(pickLanguage("", ";;,,,;q=,zh;q=2,zh;q=abc,zh;x=1"), Lang::kEn);
  EXPECT_EQ(langCode(Lang::kEn), "en");
  EXPECT_EQ(langCode(Lang::kZh), "zh");
}

TEST(WebHtml, MarkupInValuesIsEscaped) {
  EXPECT_EQ(htmlEscape("<script>alert('x')</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
  EXPECT_EQ(htmlEscape("\"Bob\" & Co"), "&quot;Bob&quot; &amp; Co");
  EXPECT_EQ(htmlEscape("张三 +8613900101230"), "张三 +8613900101230");
  EXPECT_EQ(htmlEscape(""), "");
}

}  // namespace
}  // namespace mcn::web
