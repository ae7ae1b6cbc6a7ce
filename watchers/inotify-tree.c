#include "inotify-tree.h"
