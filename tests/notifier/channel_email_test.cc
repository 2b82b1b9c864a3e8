// E-mail over SMTP through libcurl. A real SMTP peer on loopback: over implicit TLS (smtps://,
// a certificate made in the test) the message arrives byte for byte; a server that offers no
// STARTTLS on smtp:// never sees MAIL FROM, because TLS is required, not tried.

#include <gtest/gtest.h>

#include <filesystem>

#include "test_servers.h"

namespace mcn::notifier::testing {
namespace {

using subscribers::ChannelKind;

// Hand-written RFC 5322 message. Subject: printf '%s' '未接来电 (1)' | base64;
// body: printf '%s' "$TEXT" | base64 (GNU base64 wraps at 76 columns, as RFC 2045 §6.8 asks).
constexpr const char* kExpectedMessage =
    "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
    "From: mcn@example.com\r\n"
    "To: lilei@example.com\r\n"
    "Subject: =?UTF-8?B?5pyq5o6l5p2l55S1ICgxKQ==?=\r\n"
    "Message-ID: <k-7f3a9c@mcn>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=UTF-8\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "6Z+p5qKF5qKFICs4NjEzOTAwMTAxMjMwIOWRvOWPqyArODYyNTgzMDAxMDEzLCDml6DkurrmjqXl\r\n"
    "kKw=\r\n";

Notification mail(const std::string& smtp_url, const std::string& ca_file) {
  auto n = sampleNotification(ChannelKind::kEmail, "lilei@example.com");
  n.channel.options = {{"smtp_url", smtp_url}, {"from", "mcn@example.com"}};
  if (!ca_file.empty()) n.channel.options["ca_file"] = ca_file;
  return n;
}

class ChannelEmail : public ::testing::Test {
 protected:
  std::string ca_path_ = (std::filesystem::temp_directory_path() /
                          ("mcn_test_ca_" + std::to_string(::getpid()) + ".pem"))
                             .string();
  void TearDown() override { std::filesystem::remove(ca_path_); }
};

TEST_F(ChannelEmail, DeliversOverImplicitTlsWithMessageIdFromTheKey) {
  TestCertificate cert(ca_path_);
  SmtpTestServer srv(SmtpTestServer::Mode::kImplicitTls, &cert);
  Engine e;
  e.delivery.submit(mail("smtps://127.0.0.1:" + std::to_string(srv.port()), ca_path_));
  ASSERT_TRUE(e.run());
  EXPECT_EQ(e.counter("delivery.email.ok"), 1u)
      << (e.dead.entries.empty() ? "" : e.dead.entries[0].error);
  auto cmds = srv.commands();
  ASSERT_GE(cmds.size(), 4u);
  EXPECT_TRUE(cmds[0].starts_with("EHLO "));
  EXPECT_EQ(cmds[1], "MAIL FROM:<mcn@example.com>");
  EXPECT_EQ(cmds[2], "RCPT TO:<lilei@example.com>");
  EXPECT_EQ(cmds[3], "DATA");
  auto msgs = srv.messages();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0], kExpectedMessage);
}

TEST_F(ChannelEmail, UntrustedCertificateIsNotAccepted) {
  TestCertificate cert(ca_path_);
  SmtpTestServer srv(SmtpTestServer::Mode::kImplicitTls, &cert);
  DeliveryConfig cfg;
  cfg.max_attempts = 1;
  Engine e(cfg);
  // No ca_file: the self-signed certificate is not in the system store.
  e.delivery.submit(mail("smtps://127.0.0.1:" + std::to_string(srv.port()), ""));
  ASSERT_TRUE(e.run());
  EXPECT_TRUE(srv.messages().empty());
  ASSERT_EQ(e.dead.entries.size(), 1u);
  EXPECT_TRUE(e.dead.entries[0].error.starts_with("tls failed")) << e.dead.entries[0].error;
}

TEST_F(ChannelEmail, ServerWithoutStartTlsNeverSeesTheEnvelope) {
  SmtpTestServer srv(SmtpTestServer::Mode::kPlain);
  Engine e;
  e.delivery.submit(mail("smtp://127.0.0.1:" + std::to_string(srv.port()), ""));
  ASSERT_TRUE(e.run());
  for (const auto& c : srv.commands()) {
    EXPECT_FALSE(c.starts_with("MAIL")) << c;
    EXPECT_FALSE(c.starts_with("AUTH")) << c;
  }
  EXPECT_TRUE(srv.messages().empty());
  // Configuration, not a passing outage: dead-lettered after one attempt.
  ASSERT_EQ(e.dead.entries.size(), 1u);
  EXPECT_EQ(e.dead.entries[0].reason, "rejected");
  EXPECT_EQ(e.dead.entries[0].attempts, 1);
  EXPECT_TRUE(e.dead.entries[0].error.starts_with("tls required")) << e.dead.entries[0].error;
}

TEST_F(ChannelEmail, PermanentSmtpRejectionIsDeadLettered) {
  TestCertificate cert(ca_path_);
  SmtpTestServer srv(SmtpTestServer::Mode::kImplicitTls, &cert, /*rcpt_reply=*/550);
  Engine e;
  e.delivery.submit(mail("smtps://127.0.0.1:" + std::to_string(srv.port()), ca_path_));
  ASSERT_TRUE(e.run());
  ASSERT_EQ(e.dead.entries.size(), 1u);
  EXPECT_EQ(e.dead.entries[0].reason, "rejected");
  EXPECT_NE(e.dead.entries[0].error.find("smtp 550"), std::string::npos) << e.dead.entries[0].error;
}

TEST_F(ChannelEmail, OtherSchemesAndInjectedAddressesAreRefused) {
  Engine e;
  auto n = mail("http://127.0.0.1:25", "");
  e.delivery.submit(n);
  auto m = mail("smtps://127.0.0.1:465", "");
  m.channel.target = "a@example.com>\r\nRCPT TO:<b@example.com";
  e.delivery.submit(m);
  ASSERT_TRUE(e.run());
  ASSERT_EQ(e.dead.entries.size(), 2u);
  EXPECT_EQ(e.dead.entries[0].reason, "bad_config");
  EXPECT_EQ(e.dead.entries[1].reason, "bad_config");
}

}  // namespace
}  // namespace mcn::notifier::testing
