/* tests/attacks.rs: a system call through the 32-bit `int 0x80` entry (i386 ABI) from a
 * 64-bit process, the classic way around filters that only know x86_64 numbers. i386
 * __NR_getpid is 20. */
#include <stdio.h>

int main(void) {
    long ret;
    printf("before\n");
    fflush(stdout);
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory");
    printf("int80_getpid=%ld\n", ret);
    return 0;
}
