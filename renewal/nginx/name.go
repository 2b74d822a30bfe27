package nginx

import "os/exec"

var lookPath = exec.LookPath
