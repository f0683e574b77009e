# Producing to a topic that does not exist auto-creates it (Apache Kafka's default
# auto.create.topics.enable=true, num.partitions=1), as many librdkafka users rely on.
# timeout: 60
source "$(dirname "$0")/_common.sh"
t=$(topic auto)
printf 'a:1\nb:2\nc:3\n' | kcat -b "$B" -P -t "$t" -K: -X message.timeout.ms=20000
got=$(kcat -b "$B" -C -t "$t" -o beginning -e -q -f '%p %o %k=%s\n')
check_eq $'0 0 a=1\n0 1 b=2\n0 2 c=3' "$got" "records of the auto-created topic"
kcat -b "$B" -L -t "$t" | grep -q "topic \"$t\" with 1 partitions" || fail "auto-created topic should have 1 partition"
