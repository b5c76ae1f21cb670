/* The shared test vectors (tests/vectors): decode each payload with
 * zipc.hpp and check that the C++ tensor encoder reproduces the committed
 * bytes. Every <name>.bin in the directory must be covered here. */
#include "testing.hpp"

#include "vectors.hpp"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

namespace {

const std::string kDir = ZIPC_VECTORS_DIR;

std::vector<std::byte> payload(const std::string &name) { return zv::read_file(kDir + "/" + name + ".bin"); }

using zv::text;

std::uint64_t type_id(const std::string &name) { return zv::type_id(kDir, name); }

/* Decode a tensor vector, check dtype/shape/values, re-encode, compare bytes. */
template <class T> void check_tensor(const std::string &name, std::vector<std::int64_t> shape, std::vector<T> values)
{
    std::vector<std::byte> bin = payload(name);
    EXPECT_EQ(type_id(name), zipc::type_id::tensor);
    auto t = zipc::tensor_view::parse(bin);
    ASSERT_TRUE(t);
    EXPECT_TRUE(t->dtype() == zipc::dtype_of<T>());
    ASSERT_EQ(t->ndim(), shape.size());
    EXPECT_TRUE(std::equal(shape.begin(), shape.end(), t->shape().begin()));
    ASSERT_EQ(t->size(), values.size());
    EXPECT_TRUE(std::equal(values.begin(), values.end(), t->data_as<T>()));
    auto h = zipc::tensor_header<T>(shape);
    std::vector<std::byte> mine(zipc::tensor_payload_size(h));
    zipc::write_tensor(mine, h, values.data());
    EXPECT_TRUE(mine == bin);
}

} // namespace

TEST(Vectors, EveryBinIsCovered)
{
    const std::set<std::string> covered = {"bytes", "str", "json", "list", "tensor_f32_2x3",
                                           "tensor_i64_4", "tensor_u8_scalar", "tick"};
    const std::vector<zv::vector> all = zv::load(kDir); /* every .bin, with its type id */
    for (const zv::vector &v : all) {
        EXPECT_TRUE(covered.count(v.name) == 1);
        EXPECT_TRUE(v.payload == payload(v.name));
    }
    EXPECT_EQ(all.size(), covered.size());
}

TEST(Vectors, BytesAndStr)
{
    EXPECT_EQ(type_id("bytes"), zipc::type_id::bytes);
    EXPECT_EQ(text(payload("bytes")), std::string("\x00\x01zipc\xff", 7));
    EXPECT_EQ(type_id("str"), zipc::type_id::str);
    EXPECT_EQ(text(payload("str")), "z\xc3\xa9ro-copie \xe2\x9c\x93"); /* "zéro-copie ✓" */
    EXPECT_EQ(type_id("json"), zipc::type_id::json);
    EXPECT_NE(text(payload("json")).find("\"symbol\":\"ABC\""), std::string::npos);
}

TEST(Vectors, Tensors)
{
    check_tensor<float>("tensor_f32_2x3", {2, 3}, {0.0f, 0.25f, 0.5f, 0.75f, 1.0f, 1.25f});
    check_tensor<std::int64_t>("tensor_i64_4", {4}, {-1, 2, -3, 4});
    check_tensor<std::uint8_t>("tensor_u8_scalar", {}, {7});
}

TEST(Vectors, List)
{
    std::vector<std::byte> bin = payload("list");
    EXPECT_EQ(type_id("list"), zipc::type_id::list);
    zipc_list_header lh;
    ASSERT_GE(bin.size(), sizeof lh);
    std::memcpy(&lh, bin.data(), sizeof lh);
    ASSERT_EQ(lh.count, 3u);
    const std::uint32_t types[3] = {zipc::type_id::bytes, zipc::type_id::str, zipc::type_id::json};
    const std::string values[3] = {"ab", "cd", "[1,2]"};
    for (std::size_t i = 0; i < 3; i++) {
        zipc_list_entry e;
        std::memcpy(&e, bin.data() + sizeof lh + i * sizeof e, sizeof e);
        EXPECT_EQ(e.type, types[i]);
        EXPECT_EQ(e.offset % ZIPC_LIST_ALIGN, 0u);
        ASSERT_TRUE(e.offset + e.size <= bin.size());
        std::string v(reinterpret_cast<const char *>(bin.data() + e.offset), e.size);
        v.erase(std::remove(v.begin(), v.end(), ' '), v.end());
        EXPECT_EQ(v, values[i]);
    }
}

TEST(Vectors, TickThroughAChannel)
{
    std::vector<std::byte> bin = payload("tick");
    EXPECT_EQ(type_id("tick"), zt::tick_type);
    ASSERT_EQ(bin.size(), sizeof(zt::tick));
    auto p = zt::open_pair();
    p.prod.send(bin, zt::tick_type);
    auto m = p.cons.view();
    EXPECT_EQ(m.type(), zt::tick_type);
    auto t = m.as<zt::tick>();
    ASSERT_TRUE(t);
    EXPECT_EQ(t->seq, 42u);
    EXPECT_EQ(t->ts_ns, 1700000000123456789);
    EXPECT_EQ(t->price, 101.25);
    EXPECT_EQ(t->qty, 3.5f);
    EXPECT_EQ(t->side, 1u);
    zt::tick mine{42, 1700000000123456789, 101.25, 3.5f, 1};
    EXPECT_EQ(std::memcmp(&mine, bin.data(), sizeof mine), 0);
}
