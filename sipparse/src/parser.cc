#include "mcn/sipparse/parser.h"

#include <sofia-sip/msg.h>
#include <sofia-sip/msg_buffer.h>
#include <sofia-sip/msg_mclass.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_extra.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/url.h>
#include <sys/mman.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include "dial_plan_split.h"
#include "fast_path.h"
#include "lenient.h"
#include "sip_text.h"

namespace mcn::sipparse {

namespace {

// Larger payloads are not SIP signalling we can use (UDP cannot carry more; a TCP message this
// big is an attack or a capture error). Checked before sofia allocates anything.
constexpr size_t kMaxMessageBytes = 65535;

// Bound on header fields (lines, not comma-separated values) per message, checked before sofia
// sees it. sofia appends every parsed header field to its per-class list by walking the list
// from the head (msg_parser.c append_parsed), so N fields of one kind (N Via lines, or N
// headers that are all unknown to our parser class) cost O(N^2): 1,000 fields take ~3 ms and
// 3,500 ~40 ms, against ~3 us for a whole IMS INVITE (tests/bench/bench_floods.cc). A real
// INVITE after a P-CSCF, S-CSCF and an AS carries 30-80 fields; 256 leaves headroom and bounds
// a hostile message at ~0.2 ms. Comma-separated values are parsed in linear time and are not
// limited here (RFC 3261 §7.3.1).
constexpr size_t kMaxHeaderFields = 256;

// Bound on stored list entries per message (PAI, Diversion, History-Info, Reason, Privacy) so a
// hostile message cannot make one SipEvent arbitrarily large. Via values are only counted.
constexpr size_t kMaxListEntries = 32;

// sofia's home for one message is preloaded with this much beyond the raw text, so the header
// structures of a typical IMS INVITE (25-40 headers) come out of one malloc.
constexpr size_t kHomePreload = 4096;

// Slots of the URI -> normalised number memo (see Impl::fillFromUri); a power of two. An office
// network of 20,000 numbers in two or three URI forms each keeps most of the numbers of the
// calls in flight; 2 MiB (128-byte slots).
constexpr size_t kNumberMemoSlots = 16384;

enum Counter : size_t {
  kParsed,
  kRequests,
  kResponses,
  kKeepalive,
  kTooLarge,
  kMalformed,
  kTruncated,
  kMissingCallId,
  kMissingCseq,
  kMissingFromTo,
  kBadHeader,
  kListTruncated,
  kTooManyHeaders,
  kLenient,
  kCounterCount
};
// readSofia's result for a message it read (the other values name the drop counter)
constexpr Counter kRead = kCounterCount;

// Stable names: API, documented in sipparse/README.md and asserted in tests.
constexpr std::array<const char*, kCounterCount> kCounterNames{
    "sip.parsed",           "sip.requests",        "sip.responses",  "sip.keepalive",
    "sip.too_large",        "sip.malformed",       "sip.truncated",  "sip.missing_call_id",
    "sip.missing_cseq",     "sip.missing_from_to", "sip.bad_header", "sip.list_truncated",
    "sip.too_many_headers", "sip.lenient",
};

struct MsgDeleter {
  void operator()(msg_t* m) const { msg_destroy(m); }
};
using MsgPtr = std::unique_ptr<msg_t, MsgDeleter>;

// The parser table. sofia's default SIP class decodes ~70 headers we never read (Contact, Route,
// Allow, Accept-Contact, ...): each costs time, and a malformed one lands in sip_error. This class
// knows only what SipEvent needs; everything else is kept as an unknown header (name/value only).
// P-Asserted-Identity comes from sofia's extension set (sip_extra.h, RFC 3325). Privacy is left
// unknown on purpose: sofia rejects the whole header on one unexpected token and keeps a single
// instance, while a passive monitor must rather over-detect a withheld caller (RFC 3323 §4.2).
// Built once, read-only afterwards, shared by every parser thread; never freed (process lifetime).
const msg_mclass_t* parserClass() {
  static const msg_mclass_t* const mc = []() -> const msg_mclass_t* {
    msg_mclass_t* c = msg_mclass_clone(sip_default_mclass(), 0, /*empty=*/1);
    if (c == nullptr) return nullptr;
    struct Ref {
      msg_hclass_t* hc;
      size_t offset;
    };
    const Ref refs[] = {
        {sip_via_class, offsetof(sip_t, sip_via)},
        {sip_from_class, offsetof(sip_t, sip_from)},
        {sip_to_class, offsetof(sip_t, sip_to)},
        {sip_call_id_class, offsetof(sip_t, sip_call_id)},
        {sip_cseq_class, offsetof(sip_t, sip_cseq)},
        {sip_reason_class, offsetof(sip_t, sip_reason)},
        // needed to find the end of the body (RFC 3261 §18.3)
        {sip_content_length_class, offsetof(sip_t, sip_content_length)},
    };
    for (const Ref& r : refs) {
      if (msg_mclass_insert_header(c, r.hc, static_cast<unsigned short>(r.offset)) < 0) {
        std::free(c);
        return nullptr;
      }
    }
    // offset 0: sofia appends a slot after sip_t; read it back with sip_p_asserted_identity()
    if (msg_mclass_insert_header(c, sip_p_asserted_identity_class, 0) < 0) {
      std::free(c);
      return nullptr;
    }
    return c;
  }();
  return mc;
}

// Headers the parser class decodes itself; the correlation header cannot be one of them.
constexpr std::array<const char*, 13> kClassHeaderNames{"Via",
                                                        "v",
                                                        "From",
                                                        "f",
                                                        "To",
                                                        "t",
                                                        "Call-ID",
                                                        "i",
                                                        "CSeq",
                                                        "Reason",
                                                        "Content-Length",
                                                        "l",
                                                        "P-Asserted-Identity"};

bool isEssentialHeader(const char* name) {
  if (name == nullptr) return false;
  const std::string_view n(name);
  return text::iequals(n, "Call-ID") || text::iequals(n, "CSeq") || text::iequals(n, "From") ||
         text::iequals(n, "To");
}

bool isHeaderToken(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    // token chars, RFC 3261 §25.1
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::strchr("-.!%*_+`'~", c) != nullptr;
    if (!ok) return false;
  }
  return true;
}

bool isKeepalive(const std::string& b) {
  // RFC 5626 §3.5.1 keep-alives are CRLFCRLF pings and CRLF pongs; an empty payload is the same
  // non-message.
  for (const char c : b) {
    if (!text::isLws(c)) return false;
  }
  return true;
}

// More than `limit` header fields before the empty line that ends the head? A field starts at a
// line that does not begin with SP or HT (those continue the previous field, RFC 3261 §7.3.1).
// Bare LF line ends count too, as sofia accepts them.
bool tooManyHeaderFields(const std::string& b, size_t limit) {
  // Every field counted below takes two bytes of its own (its line's '\n' and first character),
  // so a message this short cannot exceed the limit: most of them, skipped without a scan.
  if (b.size() < 2 * (limit + 1)) return false;
  size_t fields = 0;
  size_t pos = b.find('\n');  // end of the start line
  while (pos != std::string::npos && pos + 1 < b.size()) {
    const char c = b[pos + 1];
    if (c == '\n' || (c == '\r' && pos + 2 < b.size() && b[pos + 2] == '\n')) return false;
    if (c != ' ' && c != '\t' && ++fields > limit) return true;
    pos = b.find('\n', pos + 1);
  }
  return false;
}

// s = v, for a v that does not point into s. std::string::assign goes through _M_replace, which
// also handles that overlap; append to a cleared string is a capacity check and a copy.
inline void setText(std::string& s, std::string_view v) {
  s.clear();
  s.append(v.data(), v.size());
}

std::string lowerCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = text::lowerAscii(c);
  return out;
}

// RFC 4458 §3 cause values (also what RFC 7044 Reason causes carry) in RFC 5806 reason terms, so
// the tracker reads Diversion and History-Info the same way.
const char* causeToReason(long cause) {
  switch (cause) {
    case 302:
      return "unconditional";
    case 404:
      return "unknown";
    case 408:
      return "no-answer";
    case 480:
    case 487:
      return "deflection";
    case 486:
      return "user-busy";
    case 503:
      return "unavailable";
    default:
      return "";
  }
}

}  // namespace

struct SipParser::Impl {
  explicit Impl(ParserConfig c) : cfg(std::move(c)), dial_plan(cfg.dial_plan) {}

  ParserConfig cfg;
  DialPlan dial_plan;
  const msg_mclass_t* mclass = nullptr;
  // Single writer (the parsing thread); forEachCounter may run on another thread.
  std::array<std::atomic<uint64_t>, kCounterCount> counters{};

  // Every message of a call repeats the same From/To/PAI URIs, and the dial plan (separator
  // stripping, prefix rules, regexes) costs more than a hash lookup. The plan is immutable, so a
  // memo cannot go stale. Direct-mapped with a fixed number of slots: a colliding URI simply
  // replaces the slot's entry, in place (its strings keep their capacity, so a miss allocates
  // nothing once the slot has held a URI that long), and the memory is fixed.
  // The slot holds the URI, its user part (as a range of it) and the number inline, in two
  // cache lines: a hit costs one hash, one compare and no pointer chase. Longer URIs or numbers
  // (rare) are normalised every time.
  // The fast path's scan hashes each URI and prefetches its slot (fast::MemoPrefetch).
  struct alignas(64) MemoSlot {
    uint32_t check = 0;  // the hash's upper half (its low bits chose the slot)
    bool used = false;
    bool split = false;      // splitUri accepted the URI; user_off/user_len locate its user part
    bool in_subset = false;  // passed fast::scannedUriInSubset
    uint8_t user_off = 0;
    // 16 bits, not 8: GCC expands a copy whose length it knows is below 256 inline as
    // `rep movsq`, which takes ~60 cycles to start on a short string; longer bounds call memcpy.
    uint16_t uri_len = 0;
    uint16_t user_len = 0;
    uint16_t number_len = 0;
    char number[34];
    char uri[80];
  };
  static_assert(sizeof(MemoSlot) == 128);
  // One 2 MiB block of its own pages, aligned, so that the kernel can back it with one huge
  // page (where transparent huge pages are on for madvise): each message reads a few random
  // slots of it, and with 4 KiB pages nearly each of those reads also missed the TLB. Mapped
  // rather than malloc'ed: malloc may hand out heap pages that are already in place.
  static constexpr size_t kMemoBytes = kNumberMemoSlots * sizeof(MemoSlot);
  struct MemoUnmap {
    void operator()(MemoSlot* p) const { munmap(p, kMemoBytes); }
  };
  static std::unique_ptr<MemoSlot[], MemoUnmap> mapMemo() {
    void* raw =
        mmap(nullptr, 2 * kMemoBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    const auto base = reinterpret_cast<uintptr_t>(raw);
    const uintptr_t aligned = (base + kMemoBytes - 1) & ~(uintptr_t{kMemoBytes} - 1);
    if (aligned > base) munmap(raw, aligned - base);
    munmap(reinterpret_cast<void*>(aligned + kMemoBytes), base + kMemoBytes - aligned);
    auto* slots = reinterpret_cast<MemoSlot*>(aligned);
#ifdef MADV_HUGEPAGE
    (void)madvise(slots, kMemoBytes, MADV_HUGEPAGE);  // a hint: without huge pages all still works
#endif
    for (size_t i = 0; i < kNumberMemoSlots; ++i) new (&slots[i]) MemoSlot();
    return std::unique_ptr<MemoSlot[], MemoUnmap>(slots);
  }
  std::unique_ptr<MemoSlot[], MemoUnmap> number_memo = mapMemo();

  // per-message flags
  bool bad_header = false;
  bool list_truncated = false;
  // sofia read the message, but not as a person would: a Via it could not decode (the top
  // branch and the count are then wrong), or a CSeq method in another case. The lenient path
  // may read it right.
  bool misread = false;
  std::string lenient_buf;  // the rewritten message (lenient.h); capacity kept

  void bump(Counter c) {
    counters[c].store(counters[c].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  bool roomFor(size_t size) {
    if (size < kMaxListEntries) return true;
    list_truncated = true;
    return false;
  }

  // Entries of SipEvent's lists from earlier messages, kept with their string capacity so that
  // filling the next message's lists allocates nothing (parseInto).
  std::vector<NameAddr> spare_names;
  std::vector<Redirection> spare_redirections;
  std::vector<ReasonValue> spare_reasons;
  std::vector<std::string> spare_strings;
  fast::Scan scan;

  static void clearName(NameAddr& n) {
    n.display.clear();
    n.uri.clear();
    n.user.clear();
    n.number.clear();
    n.tag.clear();
  }

  template <class T>
  static void recycle(std::vector<T>& list, std::vector<T>& spare) {
    for (T& x : list) spare.push_back(std::move(x));
    list.clear();
  }

  NameAddr takeName() {
    if (spare_names.empty()) return {};
    NameAddr n = std::move(spare_names.back());
    spare_names.pop_back();
    clearName(n);
    return n;
  }

  Redirection takeRedirection() {
    if (spare_redirections.empty()) return {};
    Redirection r = std::move(spare_redirections.back());
    spare_redirections.pop_back();
    clearName(r.target);
    r.reason.clear();
    r.cause = 0;
    r.index.clear();
    r.counter = 0;
    return r;
  }

  ReasonValue takeReason() {
    if (spare_reasons.empty()) return {};
    ReasonValue r = std::move(spare_reasons.back());
    spare_reasons.pop_back();
    r.protocol.clear();
    r.cause = 0;
    r.text.clear();
    return r;
  }

  // Back to a default SipEvent, keeping every buffer.
  void reset(SipEvent& ev) {
    ev.ts_us = 0;
    ev.src = {};
    ev.dst = {};
    ev.transport = capture::Transport::kUdp;
    ev.capture_id.reset();
    ev.is_request = false;
    ev.method = Method::kOther;
    ev.method_name.clear();
    clearName(ev.request_uri);
    ev.status = 0;
    ev.phrase.clear();
    ev.call_id.clear();
    ev.cseq = 0;
    ev.cseq_method = Method::kOther;
    clearName(ev.from);
    clearName(ev.to);
    ev.via_branch.clear();
    ev.via_count = 0;
    recycle(ev.pai, spare_names);
    if (ev.p_called_party_id) {
      spare_names.push_back(std::move(*ev.p_called_party_id));
      ev.p_called_party_id.reset();
    }
    recycle(ev.privacy, spare_strings);
    recycle(ev.diversion, spare_redirections);
    recycle(ev.history_info, spare_redirections);
    recycle(ev.reasons, spare_reasons);
    ev.icid.clear();
    ev.correlation.clear();
    ev.origin.clear();
    ev.replaces.reset();
  }

  // Fills uri-derived fields of `out` from the URI text.
  void fillFromUri(NameAddr& out, std::string_view uri) {
    fillFromUri(out, uri, fast::uriHash(uri), /*scanned=*/false);
  }

  // `h` is fast::uriHash(uri). `scanned`: a URI of the fast path's Scan, not yet checked
  // against its subset: false if it is outside it (then sofia must parse the message), unless
  // the memo has seen this URI pass, which skips the check for most URIs.
  bool fillFromUri(NameAddr& out, std::string_view uri, uint64_t h, bool scanned) {
    MemoSlot& slot = number_memo[h & (kNumberMemoSlots - 1)];
    const size_t n = uri.size();
    const auto check = static_cast<uint32_t>(h >> 32);
    if (slot.used && slot.check == check && slot.uri_len == n &&
        std::memcmp(slot.uri, uri.data(), n) == 0) {
      if (scanned && !slot.in_subset) {
        if (!fast::scannedUriInSubset(uri)) return false;
        slot.in_subset = true;
      }
      setText(out.uri, uri);
      if (slot.split) setText(out.user, {slot.uri + slot.user_off, slot.user_len});
      setText(out.number, {slot.number, slot.number_len});
      return true;
    }
    if (scanned && !fast::scannedUriInSubset(uri)) return false;
    setText(out.uri, uri);
    text::UriView u;
    const bool split = text::splitUri(out.uri, u);
    if (split) setText(out.user, u.user);
    if (out.uri.find('<') != std::string::npos) {
      out.number = dial_plan.normaliseUri(out.uri);  // (a URI sofia printed oddly)
    } else if (split) {
      out.number = normaliseSplitUri(dial_plan, u);
    } else {
      out.number.clear();  // as normaliseUri: not a URI
    }
    if (n > sizeof slot.uri || out.number.size() > sizeof slot.number) return true;  // not kept
    slot.used = true;
    slot.in_subset = scanned;
    slot.check = check;
    slot.uri_len = static_cast<uint16_t>(n);
    std::memcpy(slot.uri, out.uri.data(), n);
    slot.split = split;
    if (split) {
      // a URI without a user part has a null view, not one into the URI
      slot.user_off = u.user.empty() ? 0 : static_cast<uint8_t>(u.user.data() - out.uri.data());
      slot.user_len = static_cast<uint16_t>(u.user.size());
    }
    slot.number_len = static_cast<uint16_t>(out.number.size());
    std::memcpy(slot.number, out.number.data(), out.number.size());
    return true;
  }

  // A display name as the fast path passed it: quoted without \-escapes or line breaks, or
  // a token sequence already trimmed. unquoteInto's result without its general cases.
  static void fastDisplay(std::string_view raw, std::string& out) {
    if (!raw.empty() && raw.front() == '"') raw = raw.substr(1, raw.size() - 2);
    setText(out, raw);
  }

  void fillFromSofia(NameAddr& out, const char* display, const url_t* url, su_home_t* home) {
    if (display != nullptr) text::unquoteInto(display, out.display);
    // url_as_string() prints sofia's parsed URL; it matches the text as written except that
    // sofia has already decoded escaped unreserved characters (%2B -> +).
    char* s = url_as_string(home, url);
    if (s != nullptr) fillFromUri(out, s);
  }

  bool fillFromText(NameAddr& out, std::string_view element, std::string_view* params) {
    text::NameAddrView na;
    if (!text::splitNameAddr(element, na)) {
      bad_header = true;
      return false;
    }
    text::unquoteInto(na.display, out.display);
    fillFromUri(out, na.uri);
    if (params != nullptr) *params = na.params;
    return true;
  }

  // Diversion (RFC 5806 §4): name-addr *(";" diversion-params), most recent diversion first.
  void readDiversion(std::string_view value, SipEvent& ev) {
    text::forEachListElement(value, [&](std::string_view el) {
      if (!roomFor(ev.diversion.size())) return false;
      Redirection r = takeRedirection();
      std::string_view params;
      if (!fillFromText(r.target, el, &params)) {
        spare_redirections.push_back(std::move(r));
        return true;
      }
      text::forEachParam(params, [&](std::string_view name, std::string_view v) {
        if (text::iequals(name, "reason")) {
          r.reason = lowerCopy(text::unquote(v));
        } else if (text::iequals(name, "counter")) {
          const long n = text::parseUnsigned(text::unquote(v), 1000);
          r.counter = n < 0 ? 0 : static_cast<int>(n);
        }
        return true;
      });
      ev.diversion.push_back(std::move(r));
      return true;
    });
  }

  // History-Info (RFC 7044 §4): hi-targeted-to-uri with index=; the redirection cause is the
  // RFC 4458 `cause` URI parameter, or a SIP Reason escaped in the URI's headers
  // (`?Reason=SIP%3Bcause%3D486`, RFC 7044 §4.2.1).
  void readHistoryInfo(std::string_view value, SipEvent& ev) {
    text::forEachListElement(value, [&](std::string_view el) {
      if (!roomFor(ev.history_info.size())) return false;
      Redirection r = takeRedirection();
      std::string_view params;
      if (!fillFromText(r.target, el, &params)) {
        spare_redirections.push_back(std::move(r));
        return true;
      }
      const text::ParamValue index = text::findParam(params, "index");
      if (index.found) text::unquoteInto(index.value, r.index);
      r.cause = static_cast<int>(historyCause(r.target.uri));
      r.reason = causeToReason(r.cause);
      ev.history_info.push_back(std::move(r));
      return true;
    });
  }

  static long historyCause(std::string_view uri) {
    text::UriView u;
    if (!text::splitUri(uri, u)) return 0;
    const text::ParamValue cause = text::findParam(u.params, "cause");
    if (cause.found) {
      const long c = text::parseUnsigned(cause.value, 699);
      return c < 0 ? 0 : c;
    }
    // headers = hname "=" hvalue *( "&" hname "=" hvalue ), RFC 3261 §19.1.1
    std::string_view hs = u.headers;
    while (!hs.empty()) {
      const size_t amp = hs.find('&');
      const std::string_view h = hs.substr(0, amp);
      hs = amp == std::string_view::npos ? std::string_view{} : hs.substr(amp + 1);
      const size_t eq = h.find('=');
      if (eq == std::string_view::npos || !text::iequals(h.substr(0, eq), "Reason")) continue;
      // Reason: protocol *(";" reason-params), RFC 3326 §2; only SIP causes are status codes
      const std::string decoded = text::percentDecode(h.substr(eq + 1));
      const std::string_view reason(decoded);
      const size_t semi = reason.find(';');
      if (semi == std::string_view::npos ||
          !text::iequals(text::trim(reason.substr(0, semi)), "SIP")) {
        continue;
      }
      const text::ParamValue c = text::findParam(reason.substr(semi + 1), "cause");
      if (!c.found) continue;
      const long v = text::parseUnsigned(text::unquote(c.value), 699);
      return v < 0 ? 0 : v;
    }
    return 0;
  }

  // Privacy (RFC 3323 §4.2): priv-value *(";" priv-value). Commas are accepted too: several
  // Privacy headers may have been merged by an intermediary.
  void readPrivacy(std::string_view value, SipEvent& ev) {
    size_t start = 0;
    for (size_t i = 0; i <= value.size(); ++i) {
      if (i < value.size() && value[i] != ';' && value[i] != ',') continue;
      const std::string_view tok = text::trim(value.substr(start, i - start));
      start = i + 1;
      if (tok.empty()) continue;
      if (!roomFor(ev.privacy.size())) return;
      std::string t;
      if (!spare_strings.empty()) {
        t = std::move(spare_strings.back());
        spare_strings.pop_back();
      }
      t.assign(tok);
      for (char& c : t) c = text::lowerAscii(c);
      ev.privacy.push_back(std::move(t));
    }
  }

  // Every header the parser class does not decode (sofia's msg_unknown_t): name as written,
  // value trimmed.
  void readUnknown(std::string_view name, std::string_view value, SipEvent& ev) {
    const bool correlation =
        !cfg.correlation_header.empty() && text::iequals(name, cfg.correlation_header);
    fast::Extra kind = fast::Extra::kNone;
    if (text::iequals(name, "Diversion")) {
      kind = fast::Extra::kDiversion;
    } else if (text::iequals(name, "History-Info")) {
      kind = fast::Extra::kHistoryInfo;
    } else if (text::iequals(name, "Privacy")) {
      kind = fast::Extra::kPrivacy;
    } else if (text::iequals(name, "P-Called-Party-ID")) {
      kind = fast::Extra::kPCalledPartyId;
    } else if (text::iequals(name, "P-Charging-Vector")) {
      kind = fast::Extra::kPChargingVector;
    } else if (text::iequals(name, "Replaces")) {
      kind = fast::Extra::kReplaces;
    }
    readField(kind, correlation, value, ev);
    if (!cfg.origin_header.empty() && ev.origin.empty() && text::iequals(name, cfg.origin_header)) {
      ev.origin.assign(value);
    }
  }

  // One header field of those besides the parser class's (the fast path names them the same
  // way, fast::scanMessage).
  void readField(fast::Extra kind, bool correlation, std::string_view value, SipEvent& ev) {
    if (correlation && ev.correlation.empty()) text::unquoteInto(value, ev.correlation);
    if (kind == fast::Extra::kDiversion) {
      readDiversion(value, ev);
    } else if (kind == fast::Extra::kHistoryInfo) {
      readHistoryInfo(value, ev);
    } else if (kind == fast::Extra::kPrivacy) {
      readPrivacy(value, ev);
    } else if (kind == fast::Extra::kPCalledPartyId) {
      // RFC 3455 §4.2: a single name-addr; the first one wins
      if (ev.p_called_party_id) return;
      text::forEachListElement(value, [&](std::string_view el) {
        NameAddr n = takeName();
        if (fillFromText(n, el, nullptr)) {
          ev.p_called_party_id = std::move(n);
        } else {
          spare_names.push_back(std::move(n));
        }
        return false;
      });
    } else if (kind == fast::Extra::kPChargingVector) {
      // RFC 7315 §5.6: icid-value is token / quoted-string, the first charge parameter
      if (!ev.icid.empty()) return;
      const text::ParamValue icid = text::findParam(value, "icid-value");
      if (icid.found) text::unquoteInto(icid.value, ev.icid);
    } else if (kind == fast::Extra::kReplaces) {
      readReplaces(value, ev);
    }
  }

  // Replaces = callid *(SEMI replaces-param) (RFC 3891 §6.1); the first one wins. A value with
  // no Call-ID names no dialog and is ignored.
  void readReplaces(std::string_view value, SipEvent& ev) {
    if (ev.replaces) return;
    const size_t semi = value.find(';');
    const std::string_view id = text::trim(value.substr(0, semi));
    if (id.empty()) return;
    ReplacesValue r;
    r.call_id.assign(id);
    if (semi != std::string_view::npos) {
      const std::string_view params = value.substr(semi + 1);
      const text::ParamValue to = text::findParam(params, "to-tag");
      if (to.found) text::unquoteInto(to.value, r.to_tag);
      const text::ParamValue from = text::findParam(params, "from-tag");
      if (from.found) text::unquoteInto(from.value, r.from_tag);
      r.early_only = text::findParam(params, "early-only").found;
    }
    ev.replaces = std::move(r);
  }

  MsgPtr extract(std::string_view bytes) {
    MsgPtr msg(msg_create(mclass, 0));
    if (!msg) return nullptr;
    // No MSG_FLG_EXTRACT_COPY: sofia parses the buffer in place (it owns this copy), which
    // saves a second copy of every header; nothing here needs the raw header text afterwards.
    su_home_preload(msg_home(msg.get()), 1, static_cast<isize_t>(bytes.size() + kHomePreload));
    void* buf = msg_buf_exact(msg.get(), static_cast<usize_t>(bytes.size() + 1));
    if (buf == nullptr) return nullptr;
    std::memcpy(buf, bytes.data(), bytes.size());
    // eos=1: the capture layer hands over exactly one complete message (RFC 3261 §18.3 framing
    // is done there for TCP)
    msg_buf_commit(msg.get(), static_cast<usize_t>(bytes.size()), 1);
    msg_extract(msg.get());
    return msg;
  }

  void fillCommon(const capture::SipPayload& payload, SipEvent& ev) {
    ev.ts_us = payload.ts_us;
    ev.src = payload.src;
    ev.dst = payload.dst;
    ev.transport = payload.transport;
    if (payload.has_capture_id) ev.capture_id = payload.capture_id;
  }

  bool finishParsed(const SipEvent& ev) {
    if (bad_header) bump(kBadHeader);
    if (list_truncated) bump(kListTruncated);
    bump(kParsed);
    bump(ev.is_request ? kRequests : kResponses);
    return true;
  }

  bool parseInto(const capture::SipPayload& payload, SipEvent& ev) {
    const std::string& bytes = payload.bytes;
    if (isKeepalive(bytes)) return dropped(kKeepalive);
    if (bytes.size() > kMaxMessageBytes) return dropped(kTooLarge);
    // The scan declines a message with too many fields (it counts them the same way, as it
    // takes no folded lines), so only messages for sofia need the count of their own.
    if (cfg.fast_path && fast::scanMessage(bytes, scan, cfg.correlation_header, kMaxHeaderFields,
                                           cfg.origin_header)) {
      resetFor(ev);
      if (fillFast(payload, ev)) return finishParsed(ev);
      // a URI outside the fast path's subset: nothing counted yet, sofia reads it from scratch
    }
    if (tooManyHeaderFields(bytes, kMaxHeaderFields)) return dropped(kTooManyHeaders);
    resetFor(ev);
    Counter r = readSofia(payload, bytes, ev);
    // The lenient path (lenient.h): only for what sofia refused as malformed or misread, so a
    // correct message never pays for it. The rewritten text must read cleanly. If it does not:
    // a refusal of the rewrite names what is wrong better (a message without Call-ID is
    // sip.missing_call_id, whatever else it has); a message sofia took stays as it read it
    // (read again, as `ev` was overwritten).
    if (r == kMalformed || (r == kRead && misread)) {
      if (lenient::rewrite(bytes, lenient_buf) == lenient::Rewrite::kRewritten) {
        const bool was_read = r == kRead;
        resetFor(ev);
        const Counter l = readSofia(payload, lenient_buf, ev);
        if (l == kRead && !misread) {
          bump(kLenient);
          return finishParsed(ev);
        }
        if (was_read) {
          resetFor(ev);
          r = readSofia(payload, bytes, ev);
        } else if (l != kRead) {
          r = l;
        }
      }
    }
    if (r != kRead) return dropped(r);
    return finishParsed(ev);
  }

  void resetFor(SipEvent& ev) {
    reset(ev);
    bad_header = false;
    list_truncated = false;
    misread = false;
  }

  bool dropped(Counter c) {
    bump(c);
    return false;
  }

  // The fast path's scan accepted the message: the same fields, read from the scan, in the
  // order parseSofia reads them (so list caps and "first one wins" rules agree). false: one of
  // its URIs is outside the fast path's subset after all (fast::scanMessage); nothing has been
  // counted then.
  bool fillFast(const capture::SipPayload& payload, SipEvent& ev) {
    const fast::Scan& s = scan;
    fillCommon(payload, ev);
    if (s.is_request) {
      ev.is_request = true;
      setText(ev.method_name, s.method);
      ev.method = s.method_id;
      if (!fillFromUri(ev.request_uri, s.request_uri, s.request_uri_hash, true)) return false;
    } else {
      ev.status = s.status;
      setText(ev.phrase, s.phrase);
    }
    setText(ev.call_id, s.call_id);
    ev.cseq = s.cseq;
    ev.cseq_method = s.cseq_method_id;
    fastDisplay(s.from.display, ev.from.display);
    if (!fillFromUri(ev.from, s.from.uri, s.from.uri_hash, true)) return false;
    setText(ev.from.tag, s.from.tag);
    fastDisplay(s.to.display, ev.to.display);
    if (!fillFromUri(ev.to, s.to.uri, s.to.uri_hash, true)) return false;
    setText(ev.to.tag, s.to.tag);
    ev.via_count = s.via_count;
    if (s.has_via_branch) setText(ev.via_branch, s.via_branch);
    for (const fast::NameAddrParts& p : s.pai) {
      if (!roomFor(ev.pai.size())) {
        // not kept, but still part of what the fast path must be able to read
        if (!fast::scannedUriInSubset(p.uri)) return false;
        continue;
      }
      NameAddr n = takeName();
      fastDisplay(p.display, n.display);
      const bool ok = fillFromUri(n, p.uri, p.uri_hash, true);
      ev.pai.push_back(std::move(n));
      if (!ok) return false;
    }
    for (const fast::ReasonParts& r : s.reasons) {
      if (!roomFor(ev.reasons.size())) break;
      ReasonValue rv = takeReason();
      rv.protocol.assign(r.protocol);
      if (r.has_cause) {
        const long c = text::parseUnsigned(r.cause, 99999);
        rv.cause = c < 0 ? 0 : static_cast<int>(c);
      }
      if (r.has_text) text::unquoteInto(r.text, rv.text);
      ev.reasons.push_back(std::move(rv));
    }
    for (const fast::HeaderField& h : s.others) {
      readField(h.kind, h.correlation, h.value, ev);
      if (h.origin && ev.origin.empty()) ev.origin.assign(h.value);
    }
    return true;
  }

  // Reads `bytes` (the payload's, or the lenient path's rewrite of them) with sofia. Returns
  // kRead, or the drop counter (not yet counted).
  Counter readSofia(const capture::SipPayload& payload, std::string_view bytes, SipEvent& ev) {
    MsgPtr msg = extract(bytes);
    if (!msg) return kMalformed;
    sip_t* sip = sip_object(msg.get());
    if (sip == nullptr) return kMalformed;

    const int flags = sip->sip_flags;
    if (sip->sip_request == nullptr && sip->sip_status == nullptr) return kMalformed;
    // Content-Length beyond the bytes we have, or no empty line after the headers: the message
    // was cut (RFC 3261 §18.3 says a receiver discards it; so do we).
    if ((flags & MSG_FLG_TRUNC) != 0 || (flags & MSG_FLG_BODY) == 0) return kTruncated;
    if ((flags & MSG_FLG_ERROR) != 0) return kMalformed;
    // sofia accepts any "name/x.y" version; only SIP/2.0 is SIP here (RFC 3261 §7.1): this keeps
    // HTTP and other text protocols on the same ports out of the call tables
    const char* version =
        sip->sip_request != nullptr ? sip->sip_request->rq_version : sip->sip_status->st_version;
    if (version == nullptr || !text::iequals(version, "SIP/2.0")) return kMalformed;

    for (const msg_error_t* e = sip->sip_error; e != nullptr; e = e->er_next) {
      // A header sofia could not decode is a msg_error_t naming its class; a second instance of
      // a single-valued header is kept as-is in the same list (its own class).
      const msg_hclass_t* hc = e->er_common->h_class;
      const char* name = hc == sip_error_class ? e->er_name : hc->hc_name;
      // Two different From/To/Call-ID/CSeq make the message ambiguous: refuse it.
      if (isEssentialHeader(name)) return kMalformed;
      bad_header = true;
      if (name != nullptr && (text::iequals(name, "Via") || text::iequals(name, "v")))
        misread = true;
    }
    if (sip->sip_call_id == nullptr || sip->sip_call_id->i_id == nullptr) return kMissingCallId;
    if (sip->sip_cseq == nullptr) return kMissingCseq;
    if (sip->sip_from == nullptr || sip->sip_to == nullptr) return kMissingFromTo;
    if (sip->sip_status != nullptr &&
        (sip->sip_status->st_status < 100 || sip->sip_status->st_status > 699)) {
      return kMalformed;
    }

    su_home_t* home = msg_home(msg.get());
    fillCommon(payload, ev);

    if (const sip_request_t* rq = sip->sip_request) {
      ev.is_request = true;
      ev.method_name.assign(rq->rq_method_name != nullptr ? rq->rq_method_name : "");
      ev.method = methodFromName(ev.method_name);
      fillFromSofia(ev.request_uri, nullptr, rq->rq_url, home);
    } else {
      ev.status = sip->sip_status->st_status;
      if (sip->sip_status->st_phrase != nullptr) ev.phrase.assign(sip->sip_status->st_phrase);
    }

    ev.call_id.assign(sip->sip_call_id->i_id);
    ev.cseq = sip->sip_cseq->cs_seq;
    const std::string_view cseq_method = sip->sip_cseq->cs_method_name != nullptr
                                             ? std::string_view(sip->sip_cseq->cs_method_name)
                                             : std::string_view{};
    ev.cseq_method = methodFromName(cseq_method);
    // "CSeq: 1 invite" (sofia compares it with the request's method ignoring case): a method
    // the lenient path writes in upper case, if the request names it so (lenient.h)
    if (ev.cseq_method == Method::kOther && lenient::isKnownMethodInOtherCase(cseq_method) &&
        (!ev.is_request || ev.method != Method::kOther)) {
      misread = true;
    }

    fillFromSofia(ev.from, sip->sip_from->a_display, sip->sip_from->a_url, home);
    if (sip->sip_from->a_tag != nullptr) ev.from.tag.assign(sip->sip_from->a_tag);
    fillFromSofia(ev.to, sip->sip_to->a_display, sip->sip_to->a_url, home);
    if (sip->sip_to->a_tag != nullptr) ev.to.tag.assign(sip->sip_to->a_tag);

    // sofia splits comma-separated Via values into one sip_via_t each (RFC 3261 §7.3.1)
    for (const sip_via_t* v = sip->sip_via; v != nullptr; v = v->v_next) ++ev.via_count;
    if (sip->sip_via != nullptr && sip->sip_via->v_branch != nullptr) {
      ev.via_branch.assign(sip->sip_via->v_branch);
    }

    for (const sip_p_asserted_identity_t* p = sip_p_asserted_identity(sip); p != nullptr;
         p = p->paid_next) {
      if (!roomFor(ev.pai.size())) break;
      NameAddr n = takeName();
      fillFromSofia(n, p->paid_display, p->paid_url, home);
      ev.pai.push_back(std::move(n));
    }

    // Reason (RFC 3326 §2): protocol *(";" reason-params); several values per header allowed
    for (const sip_reason_t* r = sip->sip_reason; r != nullptr; r = r->re_next) {
      if (!roomFor(ev.reasons.size())) break;
      ReasonValue rv = takeReason();
      if (r->re_protocol != nullptr) rv.protocol.assign(r->re_protocol);
      if (r->re_cause != nullptr) {
        const long c = text::parseUnsigned(r->re_cause, 99999);
        rv.cause = c < 0 ? 0 : static_cast<int>(c);
      }
      if (r->re_text != nullptr) text::unquoteInto(r->re_text, rv.text);
      ev.reasons.push_back(std::move(rv));
    }

    for (const msg_unknown_t* u = sip->sip_unknown; u != nullptr; u = u->un_next) {
      if (u->un_name != nullptr && u->un_value != nullptr) readUnknown(u->un_name, u->un_value, ev);
    }
    return kRead;
  }
};

SipParser::SipParser(ParserConfig cfg) {
  if (!cfg.correlation_header.empty()) {
    if (!isHeaderToken(cfg.correlation_header)) {
      throw std::invalid_argument("sip parser: correlation_header \"" + cfg.correlation_header +
                                  "\" is not a header name");
    }
    for (const char* n : kClassHeaderNames) {
      if (text::iequals(cfg.correlation_header, n)) {
        throw std::invalid_argument("sip parser: correlation_header \"" + cfg.correlation_header +
                                    "\" is a header the parser already decodes");
      }
    }
  }
  if (!cfg.origin_header.empty() && !isHeaderToken(cfg.origin_header)) {
    throw std::invalid_argument("sip parser: origin_header \"" + cfg.origin_header +
                                "\" is not a header name");
  }
  impl_ = std::make_unique<Impl>(std::move(cfg));
  impl_->scan.prefetch = {reinterpret_cast<const char*>(impl_->number_memo.get()),
                          kNumberMemoSlots - 1, sizeof(Impl::MemoSlot)};
  impl_->mclass = parserClass();
  if (impl_->mclass == nullptr)
    throw std::runtime_error("sip parser: cannot build sofia-sip parser class");
}

SipParser::~SipParser() = default;

std::optional<SipEvent> SipParser::parse(const capture::SipPayload& payload) {
  std::optional<SipEvent> ev(std::in_place);
  if (!impl_->parseInto(payload, *ev)) ev.reset();
  return ev;
}

bool SipParser::parseInto(const capture::SipPayload& payload, SipEvent& out) {
  return impl_->parseInto(payload, out);
}

const DialPlan& SipParser::dialPlan() const { return impl_->dial_plan; }

void SipParser::forEachCounter(
    const std::function<void(std::string_view name, uint64_t value)>& fn) const {
  for (size_t i = 0; i < kCounterCount; ++i) {
    fn(kCounterNames[i], impl_->counters[i].load(std::memory_order_relaxed));
  }
}

}  // namespace mcn::sipparse
