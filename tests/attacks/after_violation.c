/* tests/attacks.rs: under the strict policy, socket() of a family other than unix/inet/inet6
 * (those fail with EACCES) is a violation that must end the program inside the call. Anything
 * written after it means the program ran on. */
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
    write(1, "before\n", 7);
    int fd = socket(AF_PACKET, SOCK_RAW, 0);
    write(1, fd < 0 ? "after-error\n" : "after-ok\n", fd < 0 ? 12 : 9);
    return 0;
}
