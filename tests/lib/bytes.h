// Building wire bytes in C++ tests: big-endian integers and concatenation.
#ifndef DPDIST_TESTS_LIB_BYTES_H
#define DPDIST_TESTS_LIB_BYTES_H

#include <cstdint>
#include <initializer_list>
#include <vector>

namespace testbytes
{

// v in n big-endian bytes.
inline std::vector<uint8_t> be(uint64_t v, int n)
{
    std::vector<uint8_t> b;
    for (int i = n - 1; i >= 0; i--)
        b.push_back(uint8_t(v >> (8 * i)));
    return b;
}

inline std::vector<uint8_t> cat(std::initializer_list<std::vector<uint8_t>> parts)
{
    std::vector<uint8_t> out;
    for (const auto &p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

} // namespace testbytes

#endif
