#pragma once
// moodycamel::ReaderWriterQueue (Debian libreaderwriterqueue-dev), the single-producer,
// single-consumer ring between mcn's threads, included through here so every user builds it the
// same way under ThreadSanitizer.
//
// TSan does not see standalone fences; the queue annotates its fences for TSan only where
// __has_feature exists (clang). Under GCC (tools/test.sh tsan) this does what it does there.

#if defined(__SANITIZE_THREAD__) && !defined(AE_TSAN_ANNOTATE_RELEASE)
namespace moodycamel {
inline int ae_tsan_global;
}
extern "C" void AnnotateHappensBefore(const char*, int, void*);
extern "C" void AnnotateHappensAfter(const char*, int, void*);
#define AE_TSAN_ANNOTATE_RELEASE() \
  AnnotateHappensBefore(__FILE__, __LINE__, (void*)(&::moodycamel::ae_tsan_global))
#define AE_TSAN_ANNOTATE_ACQUIRE() \
  AnnotateHappensAfter(__FILE__, __LINE__, (void*)(&::moodycamel::ae_tsan_global))
#endif
#include <readerwriterqueue/readerwriterqueue.h>
