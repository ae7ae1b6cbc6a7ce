#include "watcher.h"
