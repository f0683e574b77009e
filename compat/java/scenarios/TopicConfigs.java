// Topic configs: set at creation, visible through DescribeConfigs (with source), changed through
// IncrementalAlterConfigs; broker configs are describable.
// timeout: 60
import java.util.*;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.config.ConfigResource;

public class TopicConfigs {
  static ConfigEntry entry(Admin admin, ConfigResource cr, String name) throws Exception {
    Config cfg = admin.describeConfigs(List.of(cr)).all().get(30, TimeUnit.SECONDS).get(cr);
    return cfg.get(name);
  }

  public static void main(String[] args) {
    Compat.main("topic-configs", () -> {
      try (Admin admin = Compat.admin()) {
        String t = Compat.topic("configs");
        Compat.createTopic(admin, t, 1, Map.of("retention.ms", "3600000", "cleanup.policy", "delete"));
        ConfigResource cr = new ConfigResource(ConfigResource.Type.TOPIC, t);
        ConfigEntry e = entry(admin, cr, "retention.ms");
        Compat.check(e != null, "retention.ms not described");
        Compat.checkEq("3600000", e.value(), "retention.ms");
        Compat.checkEq(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, e.source(), "retention.ms source");
        ConfigEntry seg = entry(admin, cr, "segment.bytes");
        Compat.check(seg != null && seg.isDefault(), "segment.bytes should be described as a default: %s", seg);
        admin.incrementalAlterConfigs(Map.of(cr, List.of(new AlterConfigOp(new ConfigEntry("retention.ms", "7200000"), AlterConfigOp.OpType.SET))))
            .all().get(30, TimeUnit.SECONDS);
        Compat.checkEq("7200000", entry(admin, cr, "retention.ms").value(), "retention.ms after alter");
        ConfigResource broker = new ConfigResource(ConfigResource.Type.BROKER, "1");
        Config bc = admin.describeConfigs(List.of(broker)).all().get(30, TimeUnit.SECONDS).get(broker);
        Compat.check(bc.get("log.retention.hours") != null || bc.get("log.retention.ms") != null, "broker retention config missing: %s", bc);
      }
    });
  }
}
