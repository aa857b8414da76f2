/*
 * A Kafka-protocol broker for stepwise's tests: librdkafka's mock cluster, run as a process of its
 * own so the Node.js tests (kafkajs) can talk to it over TCP. It prints the bootstrap address
 * ("127.0.0.1:<port>") as its first line on stdout, serves until SIGTERM or SIGINT, then destroys
 * the cluster and exits 0. Topics are created on first use, as a broker with
 * auto.create.topics.enable does. The mock's brokers listen on the loopback interface only.
 * One broker: the tests need no more.
 *
 * Built by scripts/kafka-mock/build.mjs against Debian's librdkafka-dev.
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

int main(void) {
#ifdef __linux__
        /* A test runner that is killed cannot stop us: end with it rather than linger. */
        pid_t parent = getppid();
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) == 0 && getppid() != parent) return 0;
#endif

        /* Blocked before librdkafka starts its threads, so they inherit the mask and only
         * sigwait below receives these signals. */
        sigset_t stop_signals;
        sigemptyset(&stop_signals);
        sigaddset(&stop_signals, SIGTERM);
        sigaddset(&stop_signals, SIGINT);
        pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

        /* The mock cluster lives inside a client handle; this producer never sends anything, so
         * its notice that it has no bootstrap.servers is noise: warnings and errors still show. */
        char errstr[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        if (rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
                fprintf(stderr, "kafka-mock: %s\n", errstr);
                return 1;
        }
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "kafka-mock: cannot create the librdkafka handle: %s\n", errstr);
                return 1;
        }
        rd_kafka_mock_cluster_t *cluster = rd_kafka_mock_cluster_new(rk, 1);
        if (!cluster) {
                fprintf(stderr, "kafka-mock: cannot start the mock cluster\n");
                rd_kafka_destroy(rk);
                return 1;
        }

        printf("%s\n", rd_kafka_mock_cluster_bootstraps(cluster));
        fflush(stdout);

        int received;
        sigwait(&stop_signals, &received);

        rd_kafka_mock_cluster_destroy(cluster);
        rd_kafka_destroy(rk);
        return 0;
}
