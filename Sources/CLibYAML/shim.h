// libyaml (Debian libyaml-dev, pkg-config yaml-0.1): the YAML scanner and
// parser behind every text FastYAML leaves out; BallastConfig composes its
// events into nodes itself.
#include <yaml.h>
