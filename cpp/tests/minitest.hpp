/* The C++ tests' one harness, on every machine (nothing to install): TEST,
 * EXPECT_* / ASSERT_* (TRUE, FALSE, EQ, NE, LT, LE, GE, THROW) with
 * GoogleTest's meaning, and a main() that runs every test, prints one line
 * per test and "N passed, N failed", and exits 1 if any failed (0 else):
 * ctest counts the program by that exit status. */
#ifndef ZIPC_MINITEST_HPP
#define ZIPC_MINITEST_HPP

#include <cstdio>
#include <exception>
#include <functional>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace minitest {
struct test {
    const char *suite, *name;
    void (*fn)();
};
inline std::vector<test> &registry()
{
    static std::vector<test> r;
    return r;
}
inline bool &current_failed()
{
    static bool f;
    return f;
}
struct registrar {
    registrar(const char *suite, const char *name, void (*fn)()) { registry().push_back({suite, name, fn}); }
};
struct fatal {}; /* an ASSERT_ failed: leave the test */
/* Report one failed check; returns false so EXPECT/ASSERT can branch. */
inline bool fail(const char *file, int line, const std::string &what)
{
    std::fprintf(stderr, "%s:%d: Failure\n  %s\n", file, line, what.c_str());
    current_failed() = true;
    return false;
}
template <class T, class = void> struct printable : std::false_type {};
template <class T>
struct printable<T, std::void_t<decltype(std::declval<std::ostream &>() << std::declval<const T &>())>>
    : std::true_type {};
/* A compared value as text; "?" for a type without operator<<. */
template <class T> void print(std::ostream &s, const T &v)
{
    if constexpr (printable<T>::value)
        s << v;
    else
        s << "?";
}
template <class A, class B> std::string pair_text(const char *expr, const A &a, const B &b)
{
    std::ostringstream s;
    s << expr << " (";
    print(s, a);
    s << " vs ";
    print(s, b);
    s << ")";
    return s.str();
}
inline int run_all()
{
    int passed = 0, failed = 0;
    for (const test &t : registry()) {
        current_failed() = false;
        try {
            t.fn();
        } catch (const fatal &) {
        } catch (const std::exception &e) {
            fail(__FILE__, __LINE__, std::string("uncaught exception: ") + e.what());
        }
        std::printf("[%s] %s.%s\n", current_failed() ? "FAILED" : "    OK", t.suite, t.name);
        (current_failed() ? failed : passed)++;
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
} // namespace minitest

#define TEST(suite, name)                                                                  \
    static void suite##_##name();                                                          \
    static const minitest::registrar suite##_##name##_reg(#suite, #name, &suite##_##name); \
    static void suite##_##name()

#define MT_CHECK(ok, text, on_fail) \
    do {                            \
        if (!(ok)) {                \
            minitest::fail(__FILE__, __LINE__, text); \
            on_fail;                \
        }                           \
    } while (0)
/* Each side evaluated once (copied: it may refer into a temporary): a
 * failure prints the values compared, not those of a second call. */
#define MT_CMP(a, b, op, on_fail)                                                                  \
    do {                                                                                           \
        const auto mt_a = (a);                                                                     \
        const auto mt_b = (b);                                                                     \
        MT_CHECK(mt_a op mt_b, minitest::pair_text(#a " " #op " " #b, mt_a, mt_b), on_fail);       \
    } while (0)
#define MT_THROW(stmt, ex, on_fail)                                  \
    do {                                                             \
        bool mt_caught = false;                                      \
        try {                                                        \
            stmt;                                                    \
        } catch (const ex &) {                                       \
            mt_caught = true;                                        \
        }                                                            \
        MT_CHECK(mt_caught, #stmt " did not throw " #ex, on_fail);  \
    } while (0)

#define EXPECT_TRUE(c) MT_CHECK(static_cast<bool>(c), #c, (void)0)
#define EXPECT_FALSE(c) MT_CHECK(!(c), "!" #c, (void)0)
#define EXPECT_EQ(a, b) MT_CMP(a, b, ==, (void)0)
#define EXPECT_NE(a, b) MT_CMP(a, b, !=, (void)0)
#define EXPECT_LT(a, b) MT_CMP(a, b, <, (void)0)
#define EXPECT_LE(a, b) MT_CMP(a, b, <=, (void)0)
#define EXPECT_GE(a, b) MT_CMP(a, b, >=, (void)0)
#define EXPECT_THROW(s, ex) MT_THROW(s, ex, (void)0)
#define ASSERT_TRUE(c) MT_CHECK(static_cast<bool>(c), #c, throw minitest::fatal{})
#define ASSERT_FALSE(c) MT_CHECK(!(c), "!" #c, throw minitest::fatal{})
#define ASSERT_EQ(a, b) MT_CMP(a, b, ==, throw minitest::fatal{})
#define ASSERT_GE(a, b) MT_CMP(a, b, >=, throw minitest::fatal{})
#define ASSERT_THROW(s, ex) MT_THROW(s, ex, throw minitest::fatal{})

int main()
{
    return minitest::run_all();
}

#endif /* ZIPC_MINITEST_HPP */
