/* The peer of the bridge bench: libmodbus's own TCP client reading holding registers in a loop.
 *
 * Built by `cargo bench -p parlor-bridge --bench bridge` at run time with the system's C
 * compiler against Debian's libmodbus-dev (`cc -O2 libmodbus_fc03.c -lmodbus`), and run against
 * the same server, in the same run, as the bridge's own client.
 *
 * usage: libmodbus_fc03 HOST PORT UNIT START COUNT SECONDS
 * prints: requests completed, and seconds elapsed (CLOCK_MONOTONIC), one line "N S".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <modbus.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s HOST PORT UNIT START COUNT SECONDS\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[2]), unit = atoi(argv[3]), start = atoi(argv[4]), count = atoi(argv[5]);
    double secs = atof(argv[6]);
    if (count < 1 || count > MODBUS_MAX_READ_REGISTERS) {
        fprintf(stderr, "count must be 1..%d\n", MODBUS_MAX_READ_REGISTERS);
        return 2;
    }
    modbus_t *ctx = modbus_new_tcp(argv[1], port);
    if (ctx == NULL || modbus_set_slave(ctx, unit) != 0 || modbus_connect(ctx) != 0) {
        fprintf(stderr, "connect: %s\n", modbus_strerror(errno));
        return 1;
    }
    uint16_t regs[MODBUS_MAX_READ_REGISTERS];
    /* Warm-up, as the Rust client does. */
    for (int i = 0; i < 200; i++) {
        if (modbus_read_registers(ctx, start, count, regs) != count) {
            fprintf(stderr, "read: %s\n", modbus_strerror(errno));
            return 1;
        }
    }
    long n = 0;
    double t0 = now(), t = t0;
    while (t - t0 < secs) {
        if (modbus_read_registers(ctx, start, count, regs) != count) {
            fprintf(stderr, "read: %s\n", modbus_strerror(errno));
            return 1;
        }
        n++;
        t = now();
    }
    printf("%ld %.6f\n", n, t - t0);
    modbus_close(ctx);
    modbus_free(ctx);
    return 0;
}
