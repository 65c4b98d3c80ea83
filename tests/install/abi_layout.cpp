/*
 * tests/install/abi_layout.cpp - the public structs' layout, checked as C++:
 * a C++ program allocates mapio_req_t and mapio_file_t too, and must agree.
 */
#include <cstdio>

#include "abi_layout.h"

int main()
{
    return mapio_abi_main("C++");
}
