// strata platform: the segment table's storage (segment_map.hpp).
#include "platform/segment_map.hpp"

namespace strata::rt {

constinit u8 g_segment_kind[SEGMENT_TABLE_SIZE] = {};

}  // namespace strata::rt
