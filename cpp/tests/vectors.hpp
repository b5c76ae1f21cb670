/* The shared test vectors (tests/vectors) for the C++ tests and peers: each
 * <name>.bin is one message's payload, vectors.json gives its type id. */
#ifndef ZIPC_CPP_VECTORS_HPP
#define ZIPC_CPP_VECTORS_HPP

#include <zipc.hpp>

#include <dirent.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace zv {

inline std::vector<std::byte> read_file(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    if (!f)
        throw std::runtime_error("cannot read " + path);
    std::vector<char> c((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::vector<std::byte> out(c.size());
    std::transform(c.begin(), c.end(), out.begin(), [](char x) { return static_cast<std::byte>(x); });
    return out;
}

inline std::string text(const std::vector<std::byte> &b)
{
    return std::string(reinterpret_cast<const char *>(b.data()), b.size());
}

/* vectors.json (indent 1, sorted keys, written by make_vectors.py): the
 * "type_id" of the top-level entry `name`, or 0 if it has none. */
inline std::uint64_t type_id(const std::string &dir, const std::string &name)
{
    std::string json = text(read_file(dir + "/vectors.json"));
    std::size_t at = json.find("\n \"" + name + "\": {");
    if (at == std::string::npos)
        return 0;
    std::size_t end = json.find("\n }", at); /* this entry's closing brace */
    std::size_t id = json.find("\"type_id\": ", at);
    if (id == std::string::npos || id > end)
        return 0;
    return std::stoull(json.substr(id + 11));
}

struct vector {
    std::string name;
    std::uint32_t type;
    std::vector<std::byte> payload;
};

/* Every <name>.bin of dir with its type id, sorted by name (the order the
 * Python side uses: sorted file stems); throws if a type id is missing. */
inline std::vector<vector> load(const std::string &dir)
{
    std::vector<std::string> names;
    DIR *d = opendir(dir.c_str());
    if (!d)
        throw std::runtime_error("cannot open the vectors directory " + dir);
    while (dirent *e = readdir(d)) {
        std::string f = e->d_name;
        if (f.size() > 4 && f.compare(f.size() - 4, 4, ".bin") == 0)
            names.push_back(f.substr(0, f.size() - 4));
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    std::vector<vector> out;
    for (const std::string &n : names) {
        std::uint64_t id = type_id(dir, n);
        if (id == 0 || id > UINT32_MAX)
            throw std::runtime_error("vectors.json has no type id for " + n);
        out.push_back({n, static_cast<std::uint32_t>(id), read_file(dir + "/" + n + ".bin")});
    }
    if (out.empty())
        throw std::runtime_error("no .bin vector in " + dir);
    return out;
}

/* f(T{}) with T the element type of dtype d, for the types zipc.hpp can
 * encode (bool, integers, float, double); false for any other dtype. */
template <class F> bool with_element_type(zipc::dtype d, F &&f)
{
    auto is = [&](auto v) {
        if (d != zipc::dtype_of<decltype(v)>())
            return false;
        f(v);
        return true;
    };
    return is(bool{}) || is(std::int8_t{}) || is(std::int16_t{}) || is(std::int32_t{}) || is(std::int64_t{}) ||
           is(std::uint8_t{}) || is(std::uint16_t{}) || is(std::uint32_t{}) || is(std::uint64_t{}) || is(float{}) ||
           is(double{});
}

} // namespace zv

#endif
