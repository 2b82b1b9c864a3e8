#pragma once
// CSV import/export in the shape of an HR or directory export (columns in subscribers/README.md).

#include <string>
#include <string_view>
#include <vector>

#include "mcn/sipparse/dial_plan.h"
#include "mcn/subscribers/directory.h"
#include "mcn/subscribers/error.h"

namespace mcn::subscribers {

// RFC 4180 fields (quotes, doubled quotes, commas and newlines inside quotes), UTF-8 with an
// optional BOM, CRLF or LF. All or nothing: any bad row throws SubscriberError listing every bad
// row (up to 20), one line each: "file:row N: column X: reason" (the header is row 1).
std::vector<Person> loadCsvFile(const std::string& path, const sipparse::DialPlan& plan);
std::vector<Person> loadCsvText(std::string_view text, const std::string& origin,
                                const sipparse::DialPlan& plan);

// One row per person, header included; loadCsvText(exportCsv(p)) == p.
std::string exportCsv(const std::vector<Person>& people);

}  // namespace mcn::subscribers
