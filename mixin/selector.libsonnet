{
  // `name{matchers,selector}`: the series selector with the mixin's selector added, or `name`
  // alone when there are no matchers and no selector.
  metric(selector, name, matchers='')::
    local all = std.filter(function(part) part != '', [matchers, selector]);
    if std.length(all) == 0 then name else name + '{' + std.join(',', all) + '}',
}
