// strata platform: the segment table's and the page map's storage (segment_map.hpp).
#include "platform/segment_map.hpp"

namespace strata::rt {

constinit u8 g_segment_kind[SEGMENT_TABLE_SIZE] = {};
constinit PageMap g_page_map = {};

}  // namespace strata::rt
