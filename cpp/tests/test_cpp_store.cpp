/* zipc.hpp's store: zipc::store published here and opened in forked
 * children (bytes and checksums compared there), typed views and their
 * dtype check, a write through a tensor killing its process, versions,
 * metadata, a missing name, and a safetensors file refused with its
 * reason. */
#include "testing.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <fstream>

using namespace std::chrono_literals;

namespace {

using zt::reap;
using zt::spawn;

/* A fresh store name (no '/'). */
std::string store_name()
{
    static int n;
    return "zipc-cpp-store-" + std::to_string(getpid()) + "-" + std::to_string(n++);
}

/* The tensors every test publishes: their values follow from the index,
 * so a child checks every byte without being told them. */
struct fixture {
    std::vector<float> w;          /* "w": 64 x 33 f32 */
    std::vector<std::int64_t> ids; /* "ids": 1000 i64 */
    std::vector<std::uint8_t> mask; /* "mask": 3 bytes */
    double scale = 0.5;            /* "scale": a scalar */
    std::vector<zipc::store_tensor_ref> refs() const
    {
        return {zipc::store_tensor_ref::of("w", w, {64, 33}), zipc::store_tensor_ref::of("ids", ids),
                zipc::store_tensor_ref::of("mask", mask), zipc::store_tensor_ref::of("scale", &scale, 1, {})};
    }
};

fixture make_fixture()
{
    fixture f;
    for (int i = 0; i < 64 * 33; i++)
        f.w.push_back(static_cast<float>(i) * 0.25f - 7.0f);
    for (int i = 0; i < 1000; i++)
        f.ids.push_back(static_cast<std::int64_t>(i) * 1000003 - 5);
    f.mask = {1, 0, 1};
    return f;
}

zipc::store_options quick() { return zipc::store_options().timeout(10s); }

/* Every tensor of s has the fixture's bytes (0: yes, else which failed). */
int check_fixture(const zipc::store &s)
{
    fixture f = make_fixture();
    CHILD_CHECK(s.size() == 4);
    zipc::store_tensor w = s.at("w");
    CHILD_CHECK(w.dtype() == zipc::store_dtype::f32 && w.ndim() == 2 && w.shape()[0] == 64 && w.shape()[1] == 33);
    CHILD_CHECK(w.strides()[0] == 33 && w.strides()[1] == 1);
    CHILD_CHECK(w.size() == f.w.size() * sizeof(float));
    CHILD_CHECK(std::memcmp(w.data(), f.w.data(), w.size()) == 0);
    zipc::span<const float> wf = w.as<float>();
    CHILD_CHECK(wf.size() == f.w.size() && wf[100] == f.w[100]);
    zipc::store_tensor ids = s.at("ids");
    CHILD_CHECK(ids.dtype() == zipc::store_dtype::i64 && ids.elements() == 1000);
    CHILD_CHECK(std::memcmp(ids.data(), f.ids.data(), ids.size()) == 0);
    zipc::store_tensor scale = s.at("scale");
    CHILD_CHECK(scale.ndim() == 0 && scale.as<double>()[0] == 0.5);
    CHILD_CHECK(s.at("mask").as<std::uint8_t>()[2] == 1);
    s.verify();
    return 0;
}

/* The checksums a store's table records, in name order. */
struct sums {
    std::uint64_t xxh3[4];
    std::uint64_t version;
};

} // namespace

TEST(CppStore, PublishHereOpenInAChild)
{
    fixture f = make_fixture();
    std::string name = store_name();
    zipc::store pub = zipc::store::publish(name, f.refs(), quick().metadata("format", "pt").metadata("epoch", "3"));
    ASSERT_TRUE(pub);
    ASSERT_EQ(pub.size(), 4u);
    EXPECT_EQ(pub.version(), 1u);
    EXPECT_EQ(check_fixture(pub), 0);
    /* name order, as the C table */
    std::vector<std::string> names;
    for (zipc::store_tensor t : pub)
        names.emplace_back(t.name());
    EXPECT_TRUE((names == std::vector<std::string>{"ids", "mask", "scale", "w"}));
    EXPECT_EQ(pub[3].name(), std::string_view("w"));

    sums *mine = zt::shared<sums>();
    ASSERT_TRUE(mine != nullptr);
    pid_t child = spawn([&] {
        zipc::store s = zipc::store::open(name, quick().verify());
        CHILD_CHECK(check_fixture(s) == 0);
        CHILD_CHECK(s.metadata("format") == std::optional<std::string_view>("pt"));
        CHILD_CHECK(!s.metadata("nope"));
        std::size_t pairs = 0;
        for (auto [k, v] : s.metadata())
            pairs += (k == "epoch" && v == "3") || (k == "format" && v == "pt");
        CHILD_CHECK(pairs == 2 && s.metadata().size() == 2);
        for (std::size_t i = 0; i < s.size(); i++)
            mine->xxh3[i] = s[i].xxh3();
        mine->version = s.version();
        return 0;
    });
    ASSERT_EQ(reap(child), 0);
    for (std::size_t i = 0; i < pub.size(); i++) {
        EXPECT_EQ(mine->xxh3[i], pub[i].xxh3());
        EXPECT_NE(pub[i].xxh3(), 0u);
    }
    EXPECT_EQ(mine->version, 1u);
    zt::unshare(mine);
}

TEST(CppStore, TheStoreOutlivesItsPublisher)
{
    std::string name = store_name();
    int ready[2], go[2];
    ASSERT_TRUE(pipe(ready) == 0 && pipe(go) == 0);
    pid_t child = spawn([&] {
        close(ready[0]); /* only the parent's ends stay open: a dead peer reads as EOF, never a hang */
        close(go[1]);
        fixture f = make_fixture();
        zipc::store pub = zipc::store::publish(name, f.refs(), quick());
        char c = 1;
        CHILD_CHECK(write(ready[1], &c, 1) == 1);
        CHILD_CHECK(read(go[0], &c, 1) == 1); /* the parent has opened: leave */
        return 0;
    });
    close(ready[1]);
    close(go[0]);
    char c = 0;
    ASSERT_EQ(read(ready[0], &c, 1), 1);
    zipc::store s = zipc::store::open(name, quick());
    ASSERT_EQ(write(go[1], &c, 1), 1);
    ASSERT_EQ(reap(child), 0);
    EXPECT_EQ(check_fixture(s), 0); /* the publisher is gone: the memory is not */
    /* and this handle serves the name now */
    pid_t second = spawn([&] { return check_fixture(zipc::store::open(name, quick())); });
    EXPECT_EQ(reap(second), 0);
    close(ready[0]);
    close(go[1]);
}

TEST(CppStore, AsChecksTheDtype)
{
    fixture f = make_fixture();
    zipc::store s = zipc::store::publish(store_name(), f.refs(), quick());
    zipc::store_tensor w = s.at("w");
    EXPECT_EQ(w.as<float>().size(), f.w.size());
    zipc::result<zipc::span<const double>> r = w.as<double>(std::nothrow);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error() == std::errc::invalid_argument);
    EXPECT_TRUE(!w.as<std::int32_t>(std::nothrow)); /* same size, other dtype */
    try {
        (void)s.at("ids").as<std::uint64_t>();
        EXPECT_TRUE(false);
    } catch (const zipc::error &e) {
        EXPECT_TRUE(e.code() == std::errc::invalid_argument);
    }
    EXPECT_EQ(zipc::bits(zipc::store_dtype::bf16), 16u);
    EXPECT_EQ(std::string(zipc::name(zipc::store_dtype::f32)), "F32");
    EXPECT_EQ(std::string(zipc::name(w.dtype())), "F32");
}

TEST(CppStore, AWriteThroughATensorKillsTheWriter)
{
    fixture f = make_fixture();
    std::string name = store_name();
    zipc::store pub = zipc::store::publish(name, f.refs(), quick());
    pid_t child = spawn([&] {
        zipc::store s = zipc::store::open(name, quick());
        float *p = const_cast<float *>(s.at("w").as<float>().data());
        std::signal(SIGSEGV, SIG_DFL); /* the kernel's verdict, not a sanitizer's report of it */
        *static_cast<volatile float *>(p) = 1.0f;
        return 3; /* the write went through */
    });
    EXPECT_EQ(reap(child), 128 + SIGSEGV);
    /* also through the publisher's own handle: it maps its version read-only too */
    pid_t own = spawn([&] {
        std::signal(SIGSEGV, SIG_DFL);
        *const_cast<volatile std::int64_t *>(pub.at("ids").as<std::int64_t>().data()) = 0;
        return 3;
    });
    EXPECT_EQ(reap(own), 128 + SIGSEGV);
    EXPECT_EQ(check_fixture(pub), 0);
}

TEST(CppStore, LatestSeesANewVersion)
{
    fixture f = make_fixture();
    std::string name = store_name();
    /* Version 2 comes from another process, forked first, while this one has
     * no thread: a child forked after a store's helper thread started could
     * inherit a lock held by it (a sanitizer's allocator's, say) and hang. */
    int start[2], ready[2], go[2];
    ASSERT_TRUE(pipe(start) == 0 && pipe(ready) == 0 && pipe(go) == 0);
    pid_t child = spawn([&] {
        close(start[1]); /* only the parent's ends stay open: a dead peer reads as EOF, never a hang */
        close(ready[0]);
        close(go[1]);
        char c = 1;
        CHILD_CHECK(read(start[0], &c, 1) == 1); /* version 1 is published */
        std::vector<float> other(10, 2.0f);
        zipc::store_tensor_ref t = zipc::store_tensor_ref::of("w", other);
        zipc::store v2 = zipc::store::publish(name, zipc::span<const zipc::store_tensor_ref>(&t, 1), quick());
        CHILD_CHECK(v2.version() == 2);
        CHILD_CHECK(write(ready[1], &c, 1) == 1);
        CHILD_CHECK(read(go[0], &c, 1) == 1);
        return 0;
    });
    close(start[0]);
    close(ready[1]);
    close(go[0]);
    zipc::store v1 = zipc::store::publish(name, f.refs(), quick());
    zipc::store r1 = zipc::store::open(name, quick());
    EXPECT_EQ(r1.version(), 1u);
    EXPECT_EQ(r1.latest(), 1u);
    char c = 0;
    ASSERT_EQ(write(start[1], &c, 1), 1);
    ASSERT_EQ(read(ready[0], &c, 1), 1);
    EXPECT_EQ(r1.latest(), 2u);
    EXPECT_EQ(v1.latest(), 2u);
    EXPECT_EQ(check_fixture(r1), 0); /* the old version is unchanged */
    zipc::store r2 = zipc::store::open(name, quick());
    EXPECT_EQ(r2.version(), 2u);
    EXPECT_EQ(r2.size(), 1u);
    EXPECT_EQ(r2.at("w").as<float>()[9], 2.0f);
    ASSERT_EQ(write(go[1], &c, 1), 1);
    EXPECT_EQ(reap(child), 0);
    for (int fd : {start[1], ready[0], go[1]})
        close(fd);
}

TEST(CppStore, MissingNamesAndBadArguments)
{
    try {
        zipc::store::open(store_name(), zipc::store_options().timeout(200ms));
        EXPECT_TRUE(false);
    } catch (const zipc::error &e) {
        EXPECT_TRUE(e.code() == std::errc::no_such_file_or_directory);
        EXPECT_EQ(std::string(e.name()), "ENOENT");
    }
    zipc::result<zipc::store> r = zipc::store::open(store_name(), zipc::store_options().timeout(200ms), std::nothrow);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error() == std::errc::no_such_file_or_directory);

    fixture f = make_fixture();
    zipc::store s = zipc::store::publish(store_name(), f.refs(), quick());
    EXPECT_FALSE(s.find("absent"));
    zipc::result<zipc::store_tensor> t = s.find("absent", std::nothrow);
    EXPECT_TRUE(!t && t.error() == std::errc::no_such_file_or_directory);
    EXPECT_THROW(s.at("absent"), zipc::error);
    EXPECT_THROW(s[4], zipc::error);
    EXPECT_THROW(s.verify("absent"), zipc::error);
    s.verify("w");
    s.verify(std::size_t{0});

    /* a size that is not the shape's: EINVAL, nothing published */
    std::vector<float> three(3);
    zipc::store_tensor_ref bad = zipc::store_tensor_ref::of("x", three, {2, 2});
    zipc::result<zipc::store> b = zipc::store::publish(store_name(), zipc::span<const zipc::store_tensor_ref>(&bad, 1),
                                                       quick(), std::nothrow);
    EXPECT_TRUE(!b && b.error() == std::errc::invalid_argument);
    zipc::store_tensor_ref deep{"d", zipc::store_dtype::u8, std::vector<std::int64_t>(9, 1), three.data(), 1};
    EXPECT_THROW(zipc::store::publish(store_name(), zipc::span<const zipc::store_tensor_ref>(&deep, 1)), zipc::error);

    /* an empty store object */
    zipc::store empty;
    EXPECT_FALSE(empty);
    EXPECT_EQ(empty.size(), 0u);
    EXPECT_TRUE(empty.begin() == empty.end());
    EXPECT_TRUE(empty.verify(std::nothrow) == std::errc::invalid_argument);
    zipc::store moved = std::move(s);
    EXPECT_FALSE(s);
    EXPECT_EQ(moved.size(), 4u);
    moved.close();
    EXPECT_FALSE(moved);
}

TEST(CppStore, SafetensorsFileAndAHostileOne)
{
    /* a good file: 2 x 2 f32 "a", with __metadata__ */
    char good[] = "/tmp/zipc-cpp-st-XXXXXX";
    int fd = mkstemp(good);
    ASSERT_TRUE(fd >= 0);
    std::string hdr = R"({"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})";
    while (hdr.size() % 8)
        hdr += ' ';
    std::uint64_t n = hdr.size();
    float vals[4] = {1.0f, 2.0f, 3.0f, 4.0f};
    ASSERT_TRUE(write(fd, &n, 8) == 8 && write(fd, hdr.data(), hdr.size()) == static_cast<ssize_t>(hdr.size()) &&
                write(fd, vals, sizeof vals) == static_cast<ssize_t>(sizeof vals));
    close(fd);
    std::string name = store_name();
    {
        zipc::store s = zipc::store::publish_safetensors(name, good, quick().metadata("extra", "1"));
        pid_t child = spawn([&] {
            zipc::store r = zipc::store::open(name, quick());
            zipc::span<const float> a = r.at("a").as<float>();
            CHILD_CHECK(a.size() == 4 && std::memcmp(a.data(), vals, sizeof vals) == 0);
            CHILD_CHECK(r.metadata("k") == std::optional<std::string_view>("v"));
            CHILD_CHECK(r.metadata("extra") == std::optional<std::string_view>("1"));
            r.verify();
            return 0;
        });
        EXPECT_EQ(reap(child), 0);
    }
    unlink(good);

    /* a hostile one: a tensor without its fields */
    char bad[] = "/tmp/zipc-cpp-st-XXXXXX";
    fd = mkstemp(bad);
    ASSERT_TRUE(fd >= 0);
    n = 8;
    ASSERT_TRUE(write(fd, &n, 8) == 8 && write(fd, "{\"a\":{}}", 8) == 8);
    close(fd);
    try {
        zipc::store::publish_safetensors(store_name(), bad, quick());
        EXPECT_TRUE(false);
    } catch (const zipc::error &e) {
        EXPECT_TRUE(e.code() == std::errc::bad_message);
        std::string what = e.what();
        /* the reason names the file and the rule: more than the call's name */
        EXPECT_TRUE(what.find(bad) != std::string::npos);
        EXPECT_TRUE(what.size() > std::string("zipc_store_publish_safetensors(").size() + 2 * std::strlen(bad));
        std::fprintf(stderr, "refused as expected: %s\n", e.what());
    }
    std::string why;
    zipc::result<zipc::store> r = zipc::store::publish_safetensors(store_name(), bad, quick(), std::nothrow, &why);
    EXPECT_TRUE(!r && r.error() == std::errc::bad_message);
    EXPECT_TRUE(!why.empty() && why.find(bad) != std::string::npos);
    unlink(bad);

    /* no such file: a system errno, no reason */
    why = "x";
    r = zipc::store::publish_safetensors(store_name(), "/nonexistent/zipc.safetensors", quick(), std::nothrow, &why);
    EXPECT_TRUE(!r && r.error() == std::errc::no_such_file_or_directory);
    EXPECT_TRUE(why.empty());
}

TEST(CppStore, ConcurrentQueriesFromThreads)
{
    fixture f = make_fixture();
    zipc::store s = zipc::store::publish(store_name(), f.refs(), quick());
    std::atomic<int> bad{0};
    std::vector<std::thread> ts;
    for (int k = 0; k < 4; k++)
        ts.emplace_back([&] {
            for (int i = 0; i < 200; i++) {
                if (s.at("w").as<float>()[i] != f.w[i] || s.size() != 4 || !s.metadata().empty())
                    bad++;
                if (i % 50 == 0 && s.verify(std::nothrow))
                    bad++;
            }
        });
    for (std::thread &t : ts)
        t.join();
    EXPECT_EQ(bad.load(), 0);
}
