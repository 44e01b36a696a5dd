// The public header compiles as C++11 (-std=c++11 -pedantic) with only include/ and ei's
// include directory, and its functions link from libdpdist.so. See header_check.h.
#include <cstdio>

#include "header_check.h"

int main()
{
    int fails = header_check();
    std::printf("%s - public header as C++11: %d failed checks\n", fails ? "not ok 1" : "ok 1",
                fails);
    return fails ? 1 : 0;
}
