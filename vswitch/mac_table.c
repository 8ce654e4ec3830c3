/* SPDX-License-Identifier: BSD-3-Clause */
#include "vswitch/mac_table.h"
