// Hex strings <-> bytes for known-answer tests (C++ tests only). Spaces in the input are
// skipped, so vectors can be written in groups; any other non-hex character is a test bug and
// throws.
#ifndef DPDIST_TESTS_LIB_HEX_H
#define DPDIST_TESTS_LIB_HEX_H

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace testhex
{

inline int nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    throw std::invalid_argument(std::string("not a hex digit: ") + c);
}

inline std::vector<uint8_t> bytes(const std::string &hex)
{
    std::vector<uint8_t> out;
    int high = -1;
    for (char c : hex) {
        if (c == ' ')
            continue;
        int v = nibble(c);
        if (high < 0) {
            high = v;
        } else {
            out.push_back((uint8_t)(high << 4 | v));
            high = -1;
        }
    }
    if (high >= 0)
        throw std::invalid_argument("odd number of hex digits");
    return out;
}

inline std::string str(const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    std::string s;
    for (size_t i = 0; i < n; i++) {
        s += digits[p[i] >> 4];
        s += digits[p[i] & 15];
    }
    return s;
}

inline std::string str(const std::vector<uint8_t> &v)
{
    return str(v.data(), v.size());
}

} // namespace testhex

#endif
