/*
 * tests/install/abi_layout.c - the public structs' layout, checked as C11
 * (the pins and the reasons are in abi_layout.h).
 */
#include <stdio.h>

#include "abi_layout.h"

int main(void)
{
    return mapio_abi_main("C");
}
